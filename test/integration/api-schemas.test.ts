import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';

// The route schemas check params, queries and bodies before any handler runs: a wrong type, a
// missing field or a bad id is a 400 in Harbor's error shape whose message names the field.

interface HarborErrors {
  errors: Array<{ code: string; message: string }>;
}

describe('route schemas of the management API', () => {
  let wharf: InProcessWharf;
  let admin: string;
  const plain = basicAuth('schemas-plain', 'Plain-Passw0rd');

  const refused = async (method: string, url: string, auth: string | undefined, body?: unknown) => {
    const res = await wharf.call(method, `/api/v2.0${url}`, auth, body);
    const error = (res.body as HarborErrors | undefined)?.errors?.[0];
    return { status: res.status, code: error?.code, message: error?.message ?? '' };
  };

  const badRequest = async (method: string, url: string, body: unknown, message: RegExp) => {
    const res = await refused(method, url, admin, body);
    expect(res, `${method} ${url} ${JSON.stringify(body)}`).toMatchObject({
      status: 400,
      code: 'BAD_REQUEST',
    });
    expect(res.message, `${method} ${url}`).toMatch(message);
  };

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: ['schemas'] });
    admin = wharf.adminAuth;
    const user = await wharf.call('POST', '/api/v2.0/users', admin, {
      username: 'schemas-plain',
      password: 'Plain-Passw0rd',
      email: 'plain@example.test',
    });
    expect(user.status).toBe(201);
  });

  afterAll(async () => {
    await wharf?.close();
  });

  it('path ids of the wrong type', async () => {
    await badRequest('GET', '/users/abc', undefined, /^user_id must be a numeric id$/);
    await badRequest('GET', '/users/12345678901234567', undefined, /user_id must be a numeric id/);
    await badRequest('DELETE', '/robots/1.5', undefined, /robot_id must be a numeric id/);
    await badRequest('GET', '/labels/-3', undefined, /label_id must be a numeric id/);
    await badRequest('GET', '/projects/schemas/members/me', undefined, /mid must be a numeric id/);
    await badRequest('PUT', '/replication/policies/x', {}, /id must be a numeric id/);
  });

  it('queries of the wrong type or out of range', async () => {
    await badRequest('GET', '/projects?page=0', undefined, /page must be an integer from 1 to 1000000000/);
    await badRequest('GET', '/users?page_size=ten', undefined, /page_size must be a positive integer/);
    await badRequest(
      'GET',
      '/projects/schemas/repositories/app/artifacts?with_tag=maybe',
      undefined,
      /with_tag must be true or false/,
    );
    await badRequest(
      'GET',
      '/replication/executions?status=Done',
      undefined,
      /status must be one of InProgress, Succeed, Failed, Stopped/,
    );
    await badRequest('GET', '/labels?project_id=abc', undefined, /project_id must be a non-negative integer/);
    await badRequest('GET', '/search', undefined, /q is required/);
    // A HEAD answer has no body: the status says it.
    expect((await wharf.call('HEAD', '/api/v2.0/projects', admin)).status).toBe(400);
  });

  it('bodies that are not objects, with missing fields or fields of the wrong type', async () => {
    await badRequest('POST', '/projects', [], /^the request body must be a JSON object$/);
    await badRequest('POST', '/users', {}, /username is required; password is required/);
    await badRequest(
      'POST',
      '/users',
      { username: 5, password: 'Passw0rd-long' },
      /^username must be a string$/,
    );
    await badRequest('PUT', '/users/1/sysadmin', { sysadmin_flag: 'yes' }, /sysadmin_flag must be a boolean/);
    await badRequest(
      'POST',
      '/projects',
      { project_name: 'p2', metadata: 'public' },
      /metadata must be a JSON object/,
    );
    await badRequest('POST', '/robots', { name: 'r1', disable: 'yes' }, /disable must be true or false/);
    await badRequest(
      'POST',
      '/labels',
      { name: 'l1', project_id: -1 },
      /project_id must be a non-negative integer/,
    );
    await badRequest(
      'POST',
      '/projects/schemas/members',
      { role_id: 2, member_user: { user_id: 'one' } },
      /member_user\.user_id must be a number/,
    );
    await badRequest(
      'POST',
      '/replication/executions',
      { policy_id: 'first' },
      /policy_id must be a positive integer/,
    );
    await badRequest(
      'PUT',
      '/jobservice/queues/all',
      { action: 'explode' },
      /action must be one of stop, pause, resume/,
    );
    await badRequest(
      'PUT',
      '/replication/tombstones',
      { repository: 'schemas/app', tag: 'v1', digest: 'sha256:abc', deleted_at: 'yesterday' },
      /digest is not a valid digest; deleted_at must be an RFC 3339 time/,
    );
  });

  it('text that is not well-formed Unicode is refused before any route reads it', async () => {
    const res = await wharf.app.inject({
      method: 'POST',
      url: '/api/v2.0/labels',
      headers: { authorization: admin, 'content-type': 'application/json' },
      payload: '{"name":"l\\udc00","scope":"g"}',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<HarborErrors>().errors[0]?.message).toMatch(/well-formed Unicode/);
  });

  it("a problem the field's own message does not name is prefixed with the field", async () => {
    await badRequest(
      'PUT',
      '/projects/schemas/repositories/app',
      { description: 7 },
      /description must be a string/,
    );
    await badRequest(
      'POST',
      '/registries',
      { name: 'r', url: 'http://127.0.0.1:1', type: 'docker-registry', credential: { access_key: 9 } },
      /credential\.access_key must be a string/,
    );
  });

  it('ignores fields it does not know, as Harbor does', async () => {
    const res = await wharf.call('POST', '/api/v2.0/labels', admin, {
      name: 'known-and-unknown',
      scope: 'g',
      id: 77,
      deleted: false,
      creation_time: '2020-01-01T00:00:00Z',
    });
    expect(res.status).toBe(201);
  });

  it('who may not ask is told so before anything about what was asked', async () => {
    // A body no schema accepts, from a caller the route refuses anyway: the refusal, not a 400.
    expect(await refused('POST', '/registries', plain, { name: 5 })).toMatchObject({ status: 403 });
    expect(await refused('PUT', '/jobservice/queues/all', plain, { action: 'explode' })).toMatchObject({
      status: 403,
    });
    expect(await refused('POST', '/replication/policies', plain, { speed: 'fast' })).toMatchObject({
      status: 403,
    });
    expect(await refused('GET', '/users/search', undefined)).toMatchObject({ status: 401 });
    // An execution id that is not a number names no execution, as Harbor answers.
    expect(await refused('GET', '/replication/executions/abc', admin)).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
    });
  });

  it('the login form too: a name with NUL or a lone surrogate is a 400, never a database error', async () => {
    const res = await wharf.app.inject({
      method: 'POST',
      url: '/c/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'principal=ad%00min&password=x',
    });
    expect(res.statusCode).toBe(400);
    const surrogate = await wharf.app.inject({
      method: 'POST',
      url: '/c/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"principal":"\\ud800","password":"x"}',
    });
    expect(surrogate.statusCode).toBe(400);
    expect(surrogate.json<HarborErrors>().errors[0]?.message).toMatch(/principal must be well-formed text/);
    const missing = await wharf.app.inject({
      method: 'POST',
      url: '/c/login',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ principal: 'admin' }),
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json<HarborErrors>().errors[0]?.message).toMatch(/principal and password are required/);
  });
});
