import { z } from 'zod';
import { ROLE_NAMES, isProjectRole } from '../../../domain/rbac.js';
import type { MemberRow } from '../../../services/member-service.js';
import { apiArea } from '../area.js';
import { ApiError } from '../api-error.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { projectOf, projectParams } from '../project-ref.js';
import { jsonBody, pageQuery, pathId, queryText, serviceChecked } from '../schemas.js';

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

const memberParams = projectParams.extend({ mid: pathId('mid') });

/** Harbor's ProjectMember: a role and a user (by id or name) or a group. */
const addMemberBody = jsonBody({
  // The role is checked by the member service (a known project role).
  role_id: serviceChecked,
  member_user: z
    .object(
      {
        user_id: z.number({ error: 'member_user.user_id must be a number' }).int().optional(),
        username: z.string({ error: 'member_user.username must be a string' }).optional(),
      },
      { error: 'member_user must be a JSON object' },
    )
    .nullish(),
  member_group: serviceChecked,
});

const roleBody = jsonBody({ role_id: serviceChecked });

export const membersArea = apiArea('members', ['projects', 'members'], (api, { projects, members }) => {
  const MEMBERS = '/projects/:project_name_or_id/members';

  api.get(
    MEMBERS,
    { schema: { params: projectParams, querystring: z.object({ ...pageQuery, entityname: queryText }) } },
    async (request, reply) => {
      const project = await projectOf(projects, request);
      const page = pageRequest(request.query);
      const { items, total } = await members.list(
        request.principal,
        project,
        request.query.entityname,
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(memberJson));
    },
  );

  api.post(MEMBERS, { schema: { params: projectParams, body: addMemberBody } }, async (request, reply) => {
    const project = await projectOf(projects, request);
    const body = request.body;
    if (body.member_group !== undefined && body.member_user == null) {
      throw new ApiError(
        'BAD_REQUEST',
        'group members need a group source (LDAP or OIDC), which is not configured',
      );
    }
    const user = body.member_user ?? {};
    const id = await members.add(request.principal, project, body.role_id, {
      ...(user.user_id !== undefined && { id: user.user_id }),
      ...(user.username !== undefined && { username: user.username }),
    });
    reply.code(201).header('location', `/api/v2.0/projects/${project.id}/members/${id}`).send();
  });

  api.get(`${MEMBERS}/:mid`, { schema: { params: memberParams } }, async (request, reply) => {
    const project = await projectOf(projects, request);
    reply.send(memberJson(await members.get(request.principal, project, request.params.mid)));
  });

  api.put(`${MEMBERS}/:mid`, { schema: { params: memberParams, body: roleBody } }, async (request, reply) => {
    const project = await projectOf(projects, request);
    await members.updateRole(request.principal, project, request.params.mid, request.body.role_id);
    reply.send();
  });

  api.delete(`${MEMBERS}/:mid`, { schema: { params: memberParams } }, async (request, reply) => {
    const project = await projectOf(projects, request);
    await members.remove(request.principal, project, request.params.mid);
    reply.send();
  });
});
