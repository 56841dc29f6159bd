import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ROLE_NAMES, isProjectRole } from '../../../domain/rbac.js';
import type { MemberRow } from '../../../metadata/projects-table.js';
import type { MemberService } from '../../../services/member-service.js';
import type { ProjectService } from '../../../services/project-service.js';
import { ApiError } from '../api-error.js';
import { objectBody, pathId } from '../body.js';
import { pageRequest, setPageHeaders } from '../paging.js';

// /api/v2.0/projects/{project_name_or_id}/members, Harbor's shapes.

function memberJson(m: MemberRow) {
  return {
    id: m.id,
    project_id: m.project_id,
    entity_name: m.entity_name,
    entity_type: m.entity_type,
    entity_id: m.entity_id,
    role_id: m.role,
    role_name: isProjectRole(m.role) ? ROLE_NAMES[m.role] : '',
  };
}

export function registerMemberRoutes(
  api: FastifyInstance,
  projects: ProjectService,
  members: MemberService,
): void {
  const projectOf = (request: FastifyRequest) => {
    const ref = (request.params as { project: string }).project;
    return projects.visible(request.principal, ref, request.headers['x-is-resource-name'] === 'true');
  };

  api.get('/projects/:project/members', async (request, reply) => {
    const project = await projectOf(request);
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const entityName =
      typeof query.entityname === 'string' && query.entityname !== '' ? query.entityname : undefined;
    const { items, total } = await members.list(
      request.principal,
      project,
      entityName,
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(memberJson));
  });

  api.post('/projects/:project/members', async (request, reply) => {
    const project = await projectOf(request);
    const body = objectBody(request.body);
    if (body.member_group !== undefined && body.member_user === undefined) {
      throw new ApiError(
        'BAD_REQUEST',
        'group members need a group source (LDAP or OIDC), which is not configured',
      );
    }
    const user = objectBody(body.member_user ?? {});
    const id = await members.add(request.principal, project, body.role_id, {
      ...(typeof user.user_id === 'number' && { id: user.user_id }),
      ...(typeof user.username === 'string' && { username: user.username }),
    });
    reply.code(201).header('location', `/api/v2.0/projects/${project.id}/members/${id}`).send();
  });

  api.get('/projects/:project/members/:mid', async (request, reply) => {
    const project = await projectOf(request);
    reply.send(memberJson(await members.get(request.principal, project, pathId(request.params, 'mid'))));
  });

  api.put('/projects/:project/members/:mid', async (request, reply) => {
    const project = await projectOf(request);
    const body = objectBody(request.body);
    await members.updateRole(request.principal, project, pathId(request.params, 'mid'), body.role_id);
    reply.send();
  });

  api.delete('/projects/:project/members/:mid', async (request, reply) => {
    const project = await projectOf(request);
    await members.remove(request.principal, project, pathId(request.params, 'mid'));
    reply.send();
  });
}
