import { z } from 'zod';
import { ROLE_NAMES, isProjectRole } from '../../../domain/rbac.js';
import type { MemberRow, NewMember } from '../../../services/member-service.js';
import { apiArea } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { projectOf, projectParams } from '../project-ref.js';
import { jsonBody, optionalInteger, optionalString, pageQuery, pathId, queryText } from '../schemas.js';

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

/** Harbor's role_id: its range (1..5) is the member service's rule, its type is checked here. */
const roleId = z
  .number({
    error: (issue) => (issue.input === undefined ? 'role_id is required' : 'role_id must be an integer'),
  })
  .int('role_id must be an integer');

/** Harbor's ProjectMember: a role and a user (by id or name) or a group (Harbor's UserGroup). */
const addMemberBody = jsonBody({
  role_id: roleId,
  member_user: z
    .object(
      {
        user_id: z
          .number({ error: 'member_user.user_id must be a number' })
          .int('member_user.user_id must be a whole number')
          .nullish()
          .transform((v) => v ?? undefined),
        username: optionalString('member_user.username'),
      },
      { error: 'member_user must be a JSON object' },
    )
    .nullish(),
  member_group: z
    .object(
      {
        id: optionalInteger('member_group.id'),
        group_name: optionalString('member_group.group_name'),
        group_type: optionalInteger('member_group.group_type'),
        ldap_group_dn: optionalString('member_group.ldap_group_dn'),
      },
      { error: 'member_group must be a JSON object' },
    )
    .nullish(),
}).refine(
  (b) => b.member_user?.user_id !== undefined || b.member_user?.username !== undefined || b.member_group,
  { path: ['member_user'], message: 'member_user (with user_id or username) or member_group is required' },
);

/** The member named by the body: a user by id, else by name, else the group. */
function newMember(body: z.infer<typeof addMemberBody>): NewMember {
  const user = body.member_user;
  if (user?.user_id !== undefined) return { kind: 'user', userId: user.user_id };
  if (user?.username !== undefined) return { kind: 'user', username: user.username };
  const group = body.member_group;
  return {
    kind: 'group',
    ...(group?.id !== undefined && { groupId: group.id }),
    ...(group?.group_name !== undefined && { groupName: group.group_name }),
  };
}

const roleBody = jsonBody({ role_id: roleId });

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
    const id = await members.add(request.principal, project, request.body.role_id, newMember(request.body));
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
