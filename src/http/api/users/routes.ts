import type { FastifyInstance } from 'fastify';
import { roleGrants } from '../../../domain/rbac.js';
import type { UserRecord } from '../../../metadata/users-table.js';
import { LoginThrottledError } from '../../../services/auth-service.js';
import type { UserService } from '../../../services/user-service.js';
import type { AccessService } from '../../../services/access-service.js';
import { isSignedIn } from '../../../services/principal.js';
import { ApiError } from '../api-error.js';
import { objectBody, optionalString, pathId, requiredString } from '../body.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';

// /api/v2.0/users: Harbor's paths and field names (user_id, sysadmin_flag, creation_time ...).

export function userJson(user: UserRecord) {
  return {
    user_id: user.id,
    username: user.username,
    email: user.email ?? '',
    realname: user.realname,
    comment: user.comment,
    sysadmin_flag: user.sysadmin,
    admin_role_in_auth: false,
    creation_time: user.created_at.toISOString(),
    update_time: user.updated_at.toISOString(),
  };
}

export function registerUserRoutes(api: FastifyInstance, users: UserService, access: AccessService): void {
  api.post('/users', async (request, reply) => {
    const body = objectBody(request.body);
    const user = await users.create(request.principal, {
      username: requiredString(body, 'username'),
      password: requiredString(body, 'password'),
      email: optionalString(body, 'email') ?? null,
      realname: optionalString(body, 'realname') ?? '',
      comment: optionalString(body, 'comment') ?? '',
    });
    reply.code(201).header('location', `/api/v2.0/users/${user.id}`).send();
  });

  api.get('/users', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
    const username = typeof query.username === 'string' ? query.username : q.exact.username;
    const email = typeof query.email === 'string' ? query.email : q.exact.email;
    const { items, total } = await users.list(
      request.principal,
      {
        ...(username !== undefined && { username }),
        ...(q.fuzzy.username !== undefined && { usernameLike: q.fuzzy.username }),
        ...(email !== undefined && { email }),
      },
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(userJson));
  });

  api.get('/users/search', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    // Names of accounts are for signed-in users and robots only (never anonymous, never a token).
    if (!isSignedIn(request.principal)) throw new ApiError('UNAUTHORIZED', 'authentication required');
    if (typeof query.username !== 'string' || query.username === '') {
      throw new ApiError('BAD_REQUEST', 'username is required');
    }
    const { items, total } = await users.search(
      request.principal,
      query.username,
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map((u) => ({ user_id: u.id, username: u.username })));
  });

  api.get('/users/current', async (request, reply) => {
    reply.send(userJson(await users.current(request.principal)));
  });

  api.get('/users/current/permissions', async (request, reply) => {
    const principal = request.principal;
    if (principal.kind !== 'user') throw new ApiError('UNAUTHORIZED', 'sign in as a user');
    const query = request.query as Record<string, unknown>;
    const scope = typeof query.scope === 'string' ? query.scope : '';
    const relative = query.relative === 'true';
    const m = /^\/project\/(\d+)$/.exec(scope);
    if (!m) throw new ApiError('BAD_REQUEST', 'scope must be /project/<id>');
    // An id beyond any row's (and beyond bigint) names no project, rather than failing SQL.
    const id = Number(m[1]);
    const projectFacts = Number.isSafeInteger(id) ? await access.projectById(id) : null;
    // A project the caller may not see answers as a missing one (private means invisible).
    if (!projectFacts || !(await access.sees(principal, projectFacts))) {
      throw new ApiError('NOT_FOUND', `project ${m[1]} not found`);
    }
    const grants = principal.sysadmin ? roleGrants(1) : await access.grantsOf(principal, projectFacts);
    reply.send(
      grants.map((g) => ({ resource: relative ? g.resource : `${scope}/${g.resource}`, action: g.action })),
    );
  });

  api.get('/users/:user_id', async (request, reply) => {
    reply.send(userJson(await users.get(request.principal, pathId(request.params, 'user_id'))));
  });

  api.put('/users/:user_id', async (request, reply) => {
    const body = objectBody(request.body);
    const email = optionalString(body, 'email');
    const realname = optionalString(body, 'realname');
    const comment = optionalString(body, 'comment');
    await users.updateProfile(request.principal, pathId(request.params, 'user_id'), {
      ...(email !== undefined && { email: email === '' ? null : email }),
      ...(realname !== undefined && { realname }),
      ...(comment !== undefined && { comment }),
    });
    reply.send();
  });

  api.delete('/users/:user_id', async (request, reply) => {
    await users.delete(request.principal, pathId(request.params, 'user_id'));
    reply.send();
  });

  api.put('/users/:user_id/password', async (request, reply) => {
    const body = objectBody(request.body);
    try {
      await users.changePassword(
        request.principal,
        pathId(request.params, 'user_id'),
        optionalString(body, 'old_password'),
        requiredString(body, 'new_password'),
        request.ip,
      );
    } catch (err) {
      // The old password is checked like a login, under the same throttle.
      if (err instanceof LoginThrottledError) {
        reply.header('retry-after', String(err.retryAfterSeconds));
        throw new ApiError('TOO_MANY_REQUESTS', err.message);
      }
      throw err;
    }
    reply.send();
  });

  // Login locks (Wharf's own, no Harbor equivalent): sysadmins see them and lift them early.
  api.get('/login-locks', async (request, reply) => {
    const locks = await users.loginLocks(request.principal);
    reply.send(
      locks.map((l) => ({
        principal: l.account === '' ? null : l.account,
        address: l.address,
        failures: l.failures,
        locked_until: l.locked_until.toISOString(),
      })),
    );
  });

  api.delete('/login-locks', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const principal =
      typeof query.principal === 'string' && query.principal !== '' ? query.principal : undefined;
    const address = typeof query.address === 'string' && query.address !== '' ? query.address : undefined;
    await users.liftLoginLocks(request.principal, {
      ...(principal !== undefined && { account: principal }),
      ...(address !== undefined && { address }),
    });
    reply.send();
  });

  api.delete('/users/:user_id/login-locks', async (request, reply) => {
    await users.liftUserLoginLocks(request.principal, pathId(request.params, 'user_id'));
    reply.send();
  });

  api.put('/users/:user_id/sysadmin', async (request, reply) => {
    const body = objectBody(request.body);
    if (typeof body.sysadmin_flag !== 'boolean')
      throw new ApiError('BAD_REQUEST', 'sysadmin_flag must be a boolean');
    await users.setSysadmin(request.principal, pathId(request.params, 'user_id'), body.sysadmin_flag);
    reply.send();
  });
}
