import { z } from 'zod';
import type { NewProject, ProjectMetadata, ProjectUpdate } from '../../../services/project-service.js';
import type { ProjectRequestSettings } from '../../../services/project-settings.js';
import { jsonBody, optionalInteger, requiredString } from '../schemas.js';

// Harbor's ProjectReq and metadata maps, checked into the project service's typed input. Types
// are checked here; which keys exist, which values they take and which features Wharf refuses
// (quotas, proxy cache, scanning) are the service's rules (project-service.ts, project-settings.ts).

/**
 * A metadata map: Harbor's values are strings; a boolean (what its older clients send for
 * `public`) is taken as "true" or "false".
 */
export function metadataMap(what: string) {
  return z.record(
    z.string(),
    z
      .union([z.string(), z.boolean()], { error: 'must be a string' })
      .transform((v) => (typeof v === 'boolean' ? String(v) : v)),
    { error: `${what} must be a JSON object` },
  );
}

/** Harbor's CVEAllowlist; only its items matter (which must be empty, see project-settings.ts). */
const cveAllowlist = z
  .object(
    {
      items: z
        .array(
          z.object(
            { cve_id: z.string({ error: 'must be a string' }).nullish() },
            { error: 'each item must be an object {cve_id}' },
          ),
          { error: 'cve_allowlist.items must be a list' },
        )
        .nullish(),
    },
    { error: 'cve_allowlist must be an object {items}' },
  )
  .nullish()
  .transform((v) => (v?.items ? v.items.map((item) => item.cve_id ?? '') : undefined));

/** The fields of Harbor's ProjectReq that Wharf reads. */
const projectFields = {
  metadata: metadataMap('metadata')
    .nullish()
    .transform((v): ProjectMetadata => v ?? {}),
  storage_limit: optionalInteger('storage_limit'),
  registry_id: optionalInteger('registry_id'),
  cve_allowlist: cveAllowlist,
};

export const createProjectBody = jsonBody({
  project_name: requiredString('project_name'),
  // Harbor's older clients send a top-level boolean `public`.
  public: z.boolean({ error: 'public must be true or false' }).nullish(),
  ...projectFields,
});

export const updateProjectBody = jsonBody(projectFields);

function requestSettings(body: z.infer<typeof updateProjectBody>): ProjectRequestSettings {
  return {
    ...(body.storage_limit !== undefined && { storageLimit: body.storage_limit }),
    ...(body.registry_id !== undefined && { proxyRegistryId: body.registry_id }),
    ...(body.cve_allowlist !== undefined && { cveAllowlist: body.cve_allowlist }),
  };
}

/** POST /projects as the service's input; metadata.public wins over the top-level `public`. */
export function newProject(body: z.infer<typeof createProjectBody>): NewProject {
  const metadata = { ...body.metadata };
  if (typeof body.public === 'boolean' && metadata.public === undefined)
    metadata.public = String(body.public);
  return { name: body.project_name, metadata, ...requestSettings(body) };
}

/** PUT /projects/{p} as the service's input. */
export function projectUpdate(body: z.infer<typeof updateProjectBody>): ProjectUpdate {
  return { metadata: body.metadata, ...requestSettings(body) };
}
