import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { basicAuth, startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';

// Issue #11, point 6: one error catalogue and one handler. The same domain error, raised by the
// same service, answers in the OCI shape on /v2 and in Harbor's shape on the management API and
// the token service, with the catalogue's status and the headers of its kind.

let wharf: InProcessWharf;

interface ErrorBody {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

function firstError(res: LightMyRequestResponse): { code: string; message: string } | undefined {
  return res.json<ErrorBody>().errors[0];
}

beforeAll(async () => {
  wharf = await startInProcessWharf({}, { projects: ['team'] });
});

afterAll(async () => {
  await wharf?.close();
});

describe('errors rendered by the one handler', () => {
  it('a wrong password is 401 UNAUTHORIZED with a challenge on /v2, the API and the token service', async () => {
    const authorization = basicAuth('admin', 'not-the-password');
    const v2 = await wharf.app.inject({ method: 'GET', url: '/v2/', headers: { authorization } });
    const api = await wharf.app.inject({
      method: 'GET',
      url: '/api/v2.0/users/current',
      headers: { authorization },
    });
    const token = await wharf.app.inject({
      method: 'GET',
      url: '/service/token?service=wharf-registry&scope=repository:team/app:pull',
      headers: { authorization },
    });
    for (const res of [v2, api, token]) {
      expect(res.statusCode, res.body).toBe(401);
      expect(res.headers['www-authenticate']).toBeTruthy();
      expect(firstError(res)?.code).toBe('UNAUTHORIZED');
    }
    expect(api.headers['www-authenticate']).toMatch(/^Basic realm="Wharf"/);
  });

  it('a project that does not exist is NAME_UNKNOWN on /v2 and NOT_FOUND on the API', async () => {
    const v2 = await wharf.app.inject({
      method: 'GET',
      url: '/v2/nowhere/app/tags/list',
      headers: { authorization: wharf.adminAuth },
    });
    expect(v2.statusCode, v2.body).toBe(404);
    expect(firstError(v2)?.code).toBe('NAME_UNKNOWN');
    const api = await wharf.app.inject({
      method: 'GET',
      url: '/api/v2.0/projects/nowhere',
      headers: { authorization: wharf.adminAuth },
    });
    expect(api.statusCode, api.body).toBe(404);
    expect(firstError(api)?.code).toBe('NOT_FOUND');
  });

  it('a refused request body is 400 BAD_REQUEST in Harbor`s shape, without detail', async () => {
    const res = await wharf.app.inject({
      method: 'POST',
      url: '/api/v2.0/projects',
      headers: { authorization: wharf.adminAuth, 'content-type': 'application/json' },
      payload: '{"project_name": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().errors).toEqual([
      { code: 'BAD_REQUEST', message: 'the request body is not valid JSON' },
    ]);
  });

  it('a write without credentials is 401 on the API and on /v2, each in its shape', async () => {
    const api = await wharf.app.inject({ method: 'DELETE', url: '/api/v2.0/projects/team' });
    expect(api.statusCode).toBe(401);
    expect(firstError(api)?.code).toBe('UNAUTHORIZED');
    expect(api.headers['www-authenticate']).toMatch(/^Basic /);
    const v2 = await wharf.app.inject({ method: 'POST', url: '/v2/team/app/blobs/uploads/' });
    expect(v2.statusCode).toBe(401);
    expect(firstError(v2)?.code).toBe('UNAUTHORIZED');
    // /v2 names the token service in its challenge; the shape is the OCI one.
    expect(v2.headers['www-authenticate']).toBeTruthy();
  });

  it('an unknown route is 404 NOT_FOUND outside /v2 and 405 UNSUPPORTED with Allow inside it', async () => {
    const other = await wharf.app.inject({ method: 'GET', url: '/api/v2.0/no-such-area' });
    expect(other.statusCode).toBe(404);
    expect(firstError(other)?.code).toBe('NOT_FOUND');
    const v2 = await wharf.app.inject({ method: 'OPTIONS', url: '/v2/team/app/tags/list' });
    expect(v2.statusCode).toBe(405);
    expect(v2.headers.allow).toContain('DELETE');
    expect(firstError(v2)?.code).toBe('UNSUPPORTED');
  });

  it('a path that is not valid percent-encoding is refused before routing, in the shape of its path', async () => {
    const v2 = await wharf.app.inject({ method: 'GET', url: '/v2/team/app/manifests/%FF' });
    expect(v2.statusCode).toBe(400);
    expect(firstError(v2)?.code).toBe('UNSUPPORTED');
    const api = await wharf.app.inject({ method: 'GET', url: '/api/v2.0/projects/%FF' });
    expect(api.statusCode).toBeGreaterThanOrEqual(400);
    expect(api.statusCode).toBeLessThan(500);
    expect(firstError(api)?.code).toBe('BAD_REQUEST');
  });
});
