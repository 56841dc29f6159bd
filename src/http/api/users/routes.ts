import { z } from 'zod';
import { roleGrants } from '../../../domain/rbac.js';
import type { UserRecord } from '../../../services/user-service.js';
import { LoginThrottledError } from '../../../services/auth-service.js';
import { isSignedIn } from '../../../services/principal.js';
import { apiArea, type ApiInstance } from '../area.js';
import { ApiError } from '../api-error.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import type { ApiDeps } from '../plugin.js';
import { parseHarborQuery } from '../query.js';
import { jsonBody, optionalString, pageQuery, pathId, queryText, requiredString } from '../schemas.js';

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

type Deps = Pick<ApiDeps, 'users' | 'access'>;

const userParams = z.object({ user_id: pathId('user_id') });

const createUserBody = jsonBody({
  username: requiredString('username'),
  password: requiredString('password'),
  email: optionalString('email'),
  realname: optionalString('realname'),
  comment: optionalString('comment'),
});

const profileBody = jsonBody({
  email: optionalString('email'),
  realname: optionalString('realname'),
  comment: optionalString('comment'),
});

const passwordBody = jsonBody({
  old_password: optionalString('old_password'),
  new_password: requiredString('new_password'),
});

const sysadminBody = jsonBody({
  sysadmin_flag: z.boolean({ error: 'sysadmin_flag must be a boolean' }),
});

function registerUserQueries(api: ApiInstance, { users }: Deps): void {
  api.get(
    '/users',
    {
      schema: {
        querystring: z.object({
          ...pageQuery,
          username: z.string().optional(),
          email: z.string().optional(),
        }),
      },
    },
    async (request, reply) => {
      const query = request.query;
      const page = pageRequest(query);
      const q = parseHarborQuery(query.q);
      const username = query.username ?? q.exact.username;
      const email = query.email ?? q.exact.email;
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
    },
  );

  api.get(
    '/users/search',
    {
      // Names of accounts are for signed-in users and robots only (never anonymous, never a token),
      // who are told so before anything about their query.
      preValidation: async (request) => {
        if (!isSignedIn(request.principal)) throw new ApiError('UNAUTHORIZED', 'authentication required');
      },
      schema: { querystring: z.object({ ...pageQuery, username: requiredString('username') }) },
    },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const { items, total } = await users.search(
        request.principal,
        request.query.username,
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map((u) => ({ user_id: u.id, username: u.username })));
    },
  );

  api.get('/users/:user_id', { schema: { params: userParams } }, async (request, reply) => {
    reply.send(userJson(await users.get(request.principal, request.params.user_id)));
  });
}

/** The caller's own account and what it may do in a project. */
function registerCurrentUser(api: ApiInstance, { users, access }: Deps): void {
  api.get('/users/current', async (request, reply) => {
    reply.send(userJson(await users.current(request.principal)));
  });

  api.get(
    '/users/current/permissions',
    { schema: { querystring: z.object({ scope: z.string().optional(), relative: z.string().optional() }) } },
    async (request, reply) => {
      const principal = request.principal;
      if (principal.kind !== 'user') throw new ApiError('UNAUTHORIZED', 'sign in as a user');
      const scope = request.query.scope ?? '';
      const relative = request.query.relative === 'true';
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
    },
  );
}

function registerUserWrites(api: ApiInstance, { users }: Deps): void {
  api.post('/users', { schema: { body: createUserBody } }, async (request, reply) => {
    const body = request.body;
    const user = await users.create(request.principal, {
      username: body.username,
      password: body.password,
      email: body.email ?? null,
      realname: body.realname ?? '',
      comment: body.comment ?? '',
    });
    reply.code(201).header('location', `/api/v2.0/users/${user.id}`).send();
  });

  api.put(
    '/users/:user_id',
    { schema: { params: userParams, body: profileBody } },
    async (request, reply) => {
      const { email, realname, comment } = request.body;
      await users.updateProfile(request.principal, request.params.user_id, {
        ...(email !== undefined && { email: email === '' ? null : email }),
        ...(realname !== undefined && { realname }),
        ...(comment !== undefined && { comment }),
      });
      reply.send();
    },
  );

  api.delete('/users/:user_id', { schema: { params: userParams } }, async (request, reply) => {
    await users.delete(request.principal, request.params.user_id);
    reply.send();
  });

  api.put(
    '/users/:user_id/password',
    { schema: { params: userParams, body: passwordBody } },
    async (request, reply) => {
      try {
        await users.changePassword(
          request.principal,
          request.params.user_id,
          request.body.old_password,
          request.body.new_password,
          request.ip,
        );
      } catch (err) {
        // The old password is checked like a login, under the same throttle.
        if (err instanceof LoginThrottledError) {
          reply.header('retry-after', String(err.retryAfterSeconds));
          throw new ApiError('TOOMANYREQUESTS', err.message);
        }
        throw err;
      }
      reply.send();
    },
  );

  api.put(
    '/users/:user_id/sysadmin',
    { schema: { params: userParams, body: sysadminBody } },
    async (request, reply) => {
      await users.setSysadmin(request.principal, request.params.user_id, request.body.sysadmin_flag);
      reply.send();
    },
  );
}

/** Login locks (Wharf's own, no Harbor equivalent): sysadmins see them and lift them early. */
function registerLoginLocks(api: ApiInstance, { users }: Deps): void {
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

  api.delete(
    '/login-locks',
    { schema: { querystring: z.object({ principal: queryText, address: queryText }) } },
    async (request, reply) => {
      const { principal, address } = request.query;
      await users.liftLoginLocks(request.principal, {
        ...(principal !== undefined && { account: principal }),
        ...(address !== undefined && { address }),
      });
      reply.send();
    },
  );

  api.delete('/users/:user_id/login-locks', { schema: { params: userParams } }, async (request, reply) => {
    await users.liftUserLoginLocks(request.principal, request.params.user_id);
    reply.send();
  });
}

export const usersArea = apiArea('users', ['users', 'access'], (api, deps) => {
  registerCurrentUser(api, deps);
  registerUserQueries(api, deps);
  registerUserWrites(api, deps);
  registerLoginLocks(api, deps);
});
