import { z } from 'zod';
import { ROBOT_LEVELS } from '../../../domain/robot.js';
import type { RobotQuery, RobotRow } from '../../../services/robot-service.js';
import { ApiError } from '../api-error.js';
import { apiArea } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery, type HarborQuery } from '../query.js';
import { pageQuery, pathId } from '../schemas.js';
import {
  createRobotBody,
  refreshSecretBody,
  robotCreateInput,
  robotUpdateInput,
  updateRobotBody,
} from './bodies.js';

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

const robotParams = z.object({ robot_id: pathId('robot_id') });

function robotQuery(q: HarborQuery): RobotQuery {
  // Harbor's UI writes Level and ProjectID; both spellings are accepted.
  const levelText = q.exact.Level ?? q.exact.level;
  const level = ROBOT_LEVELS.find((l) => l === levelText);
  if (levelText !== undefined && level === undefined) {
    throw new ApiError('BAD_REQUEST', 'Level must be "system" or "project"');
  }
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

export const robotsArea = apiArea('robots', ['robots'], (api, { robots }) => {
  api.post('/robots', { schema: { body: createRobotBody } }, async (request, reply) => {
    const { robot, secret: shown } = await robots.create(request.principal, robotCreateInput(request.body));
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

  api.get('/robots', { schema: { querystring: z.object(pageQuery) } }, async (request, reply) => {
    const page = pageRequest(request.query);
    const filter = robotQuery(parseHarborQuery(request.query.q));
    const { items, total } = await robots.list(request.principal, filter, page.offset, page.pageSize);
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(robotJson));
  });

  api.get('/robots/:robot_id', { schema: { params: robotParams } }, async (request, reply) => {
    reply.send(robotJson(await robots.get(request.principal, request.params.robot_id)));
  });

  api.put(
    '/robots/:robot_id',
    { schema: { params: robotParams, body: updateRobotBody } },
    async (request, reply) => {
      await robots.update(request.principal, request.params.robot_id, robotUpdateInput(request.body));
      reply.send();
    },
  );

  api.patch(
    '/robots/:robot_id',
    { schema: { params: robotParams, body: refreshSecretBody } },
    async (request, reply) => {
      const secret = request.body?.secret;
      const shown = await robots.refreshSecret(
        request.principal,
        request.params.robot_id,
        secret === '' ? undefined : secret,
      );
      reply.send({ secret: shown ?? '' });
    },
  );

  api.delete('/robots/:robot_id', { schema: { params: robotParams } }, async (request, reply) => {
    await robots.delete(request.principal, request.params.robot_id);
    reply.send();
  });
});
