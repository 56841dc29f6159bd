import type { FastifyInstance } from 'fastify';
import type { RobotRow } from '../../../metadata/robots-table.js';
import type { RobotQuery, RobotService } from '../../../services/robot-service.js';
import { ApiError } from '../api-error.js';
import { objectBody, optionalString, pathId, requiredString } from '../body.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';

// /api/v2.0/robots, Harbor's shapes (Robot, RobotCreate, RobotCreated, RobotSec). The secret
// appears only in the answers to create and refresh, never in Robot.

const unixSeconds = (d: Date) => Math.floor(d.getTime() / 1000);

function robotJson(r: RobotRow) {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    level: r.level,
    duration: r.duration,
    editable: true,
    disable: r.disabled,
    expires_at: r.expires_at ? unixSeconds(r.expires_at) : -1,
    permissions: r.permissions,
    creator: r.creator,
    creation_time: r.created_at.toISOString(),
    update_time: r.updated_at.toISOString(),
  };
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new ApiError('BAD_REQUEST', `${field} must be true or false`);
  return value;
}

function robotQuery(query: Record<string, unknown>): RobotQuery {
  const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
  // Harbor's UI writes Level and ProjectID; both spellings are accepted.
  const level = q.exact.Level ?? q.exact.level;
  const projectId = q.exact.ProjectID ?? q.exact.project_id;
  if (projectId !== undefined && !/^\d{1,15}$/.test(projectId)) {
    throw new ApiError('BAD_REQUEST', 'ProjectID must be a numeric id');
  }
  const name = q.exact.name ?? q.exact.Name;
  const nameLike = q.fuzzy.name ?? q.fuzzy.Name;
  return {
    ...(level !== undefined && { level }),
    ...(projectId !== undefined && { projectId: Number(projectId) }),
    ...(name !== undefined && { name }),
    ...(nameLike !== undefined && { nameLike }),
  };
}

export function registerRobotRoutes(api: FastifyInstance, robots: RobotService): void {
  api.post('/robots', async (request, reply) => {
    const body = objectBody(request.body);
    const secret = optionalString(body, 'secret');
    const { robot, secret: shown } = await robots.create(request.principal, {
      name: requiredString(body, 'name'),
      description: optionalString(body, 'description') ?? '',
      level: body.level,
      duration: body.duration,
      disable: optionalBoolean(body, 'disable') ?? false,
      ...(secret !== undefined && secret !== '' && { secret }),
      permissions: body.permissions,
    });
    reply
      .code(201)
      .header('location', `/api/v2.0/robots/${robot.id}`)
      .send({
        id: robot.id,
        name: robot.name,
        secret: shown,
        creation_time: robot.created_at.toISOString(),
        expires_at: robot.expires_at ? unixSeconds(robot.expires_at) : -1,
      });
  });

  api.get('/robots', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const { items, total } = await robots.list(
      request.principal,
      robotQuery(query),
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(robotJson));
  });

  api.get('/robots/:robot_id', async (request, reply) => {
    reply.send(robotJson(await robots.get(request.principal, pathId(request.params, 'robot_id'))));
  });

  api.put('/robots/:robot_id', async (request, reply) => {
    const body = objectBody(request.body);
    const name = optionalString(body, 'name');
    const description = optionalString(body, 'description');
    const disable = optionalBoolean(body, 'disable');
    await robots.update(request.principal, pathId(request.params, 'robot_id'), {
      ...(name !== undefined && { name }),
      ...(body.level !== undefined && { level: body.level }),
      ...(description !== undefined && { description }),
      ...(body.duration !== undefined && { duration: body.duration }),
      ...(disable !== undefined && { disable }),
      ...(body.permissions !== undefined && { permissions: body.permissions }),
    });
    reply.send();
  });

  api.patch('/robots/:robot_id', async (request, reply) => {
    const body = objectBody(request.body ?? {});
    const secret = optionalString(body, 'secret');
    const shown = await robots.refreshSecret(
      request.principal,
      pathId(request.params, 'robot_id'),
      secret === '' ? undefined : secret,
    );
    reply.send({ secret: shown ?? '' });
  });

  api.delete('/robots/:robot_id', async (request, reply) => {
    await robots.delete(request.principal, pathId(request.params, 'robot_id'));
    reply.send();
  });
}
