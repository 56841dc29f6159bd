import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import type { Principal } from '../../services/principal.js';
import type { ProjectService } from '../../services/project-service.js';

// Harbor's `{project_name_or_id}`: a name or an id; `X-Is-Resource-Name: true` forces a name
// (a project may be called "42").

export const projectParams = z.object({ project_name_or_id: z.string() });

export interface ProjectAddressed {
  principal: Principal;
  params: { project_name_or_id: string };
  headers: IncomingHttpHeaders;
}

export function isResourceName(headers: IncomingHttpHeaders): boolean {
  return headers['x-is-resource-name'] === 'true';
}

/** The project the path names, if the caller may see it (else 404, as for a missing one). */
export function projectOf(projects: ProjectService, request: ProjectAddressed) {
  return projects.visible(
    request.principal,
    request.params.project_name_or_id,
    isResourceName(request.headers),
  );
}
