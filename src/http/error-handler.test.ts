import Fastify, { type FastifyInstance } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DomainError, RegistryError, type ErrorCode } from '../domain/errors.js';
import { ServiceError } from '../services/service-error.js';
import { ApiError } from './api/api-error.js';
import { ERROR_CATALOGUE, harborCode } from './error-catalogue.js';
import { registerErrorHandling } from './error-handler.js';

// The one error handler, driven in-process: the same thrown error on /v2, on the management API
// and on the token service, each answered in the shape of its API with the catalogue's status.

const thrown = new Map<string, Error>();
let app: FastifyInstance;

interface ErrorBodyShape {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

async function get(
  url: string,
): Promise<{ status: number; body: ErrorBodyShape; headers: Record<string, unknown> }> {
  const res = await app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json<ErrorBodyShape>(), headers: res.headers };
}

/** Throws `error` from a route on each of the three path families; returns the three answers. */
async function throwEverywhere(error: Error) {
  const key = String(thrown.size);
  thrown.set(key, error);
  return {
    v2: await get(`/v2/throw/${key}`),
    api: await get(`/api/v2.0/throw/${key}`),
    service: await get(`/service/throw/${key}`),
  };
}

beforeAll(async () => {
  app = Fastify();
  registerErrorHandling(app, { realm: 'Test' });
  for (const prefix of ['/v2', '/api/v2.0', '/service']) {
    app.get(`${prefix}/throw/:key`, async (request) => {
      throw thrown.get((request.params as { key: string }).key) as Error;
    });
    app.register(async (typed) => {
      typed.setValidatorCompiler(validatorCompiler);
      typed.withTypeProvider<ZodTypeProvider>().get(
        `${prefix}/typed/:id`,
        {
          schema: {
            params: z.object({ id: z.coerce.number().int() }),
            querystring: z.object({ n: z.coerce.number().max(10).optional() }),
          },
        },
        async () => ({ ok: true }),
      );
    });
  }
  await app.ready();
});

afterAll(async () => {
  await app.close();
});

describe('the one error handler', () => {
  it('renders every catalogue code in the OCI shape on /v2 and in Harbor`s shape elsewhere', async () => {
    for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
      const entry = ERROR_CATALOGUE[code];
      const { v2, api, service } = await throwEverywhere(new DomainError(code, `about ${code}`));
      expect(v2.status, code).toBe(entry.status);
      expect(v2.body.errors[0]?.code, code).toBe(entry.oci);
      for (const answer of [api, service]) {
        expect(answer.status, code).toBe(entry.status);
        expect(answer.body.errors[0]?.code, code).toBe(harborCode(entry.status));
        expect(answer.body.errors[0]).not.toHaveProperty('detail');
      }
    }
  });

  it('renders the errors of services, routes and metadata through the same catalogue', async () => {
    const notFound = await throwEverywhere(new ServiceError('not-found', 'project 7 not found'));
    expect([notFound.v2.status, notFound.v2.body.errors[0]?.code]).toEqual([404, 'NAME_UNKNOWN']);
    expect([notFound.api.status, notFound.api.body.errors[0]]).toEqual([
      404,
      { code: 'NOT_FOUND', message: 'project 7 not found' },
    ]);

    const conflict = await throwEverywhere(new ApiError('CONFLICT', 'exists'));
    expect([conflict.api.status, conflict.api.body.errors[0]?.code]).toEqual([409, 'CONFLICT']);
    expect(conflict.v2.body.errors[0]?.code).toBe('UNSUPPORTED');

    const missing = await throwEverywhere(
      new DomainError('PROJECT_MISSING', 'project team does not exist; create it first'),
    );
    expect(missing.v2.body.errors[0]).toEqual({
      code: 'NAME_UNKNOWN',
      message: 'project team does not exist; create it first',
    });
    expect(missing.api.body.errors[0]?.code).toBe('NOT_FOUND');
  });

  it('keeps a status the error overrides, and names it by that status on the API', async () => {
    const { v2, service } = await throwEverywhere(
      new RegistryError('UNSUPPORTED', 'unknown service', undefined, 400),
    );
    expect([v2.status, v2.body.errors[0]?.code]).toEqual([400, 'UNSUPPORTED']);
    expect([service.status, service.body.errors[0]?.code]).toEqual([400, 'BAD_REQUEST']);
  });

  it('sends the OCI detail on /v2 and the headers of 401, 416, 429 and 503', async () => {
    const unauthorized = await throwEverywhere(new RegistryError('UNAUTHORIZED', 'sign in'));
    for (const answer of Object.values(unauthorized)) {
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Basic realm="Test", charset="UTF-8"');
    }
    const range = await throwEverywhere(new RegistryError('RANGE_INVALID', 'no', { size: 10, offset: 4 }));
    expect(range.v2.headers['content-range']).toBe('bytes */10');
    expect(range.v2.headers.range).toBe('0-3');
    expect(range.v2.body.errors[0]?.detail).toEqual({ size: 10, offset: 4 });
    const throttled = await throwEverywhere(
      new RegistryError('TOOMANYREQUESTS', 'slow', { retryAfterSeconds: 42 }),
    );
    expect(throttled.v2.headers['retry-after']).toBe('42');
    expect(throttled.api.headers['retry-after']).toBe('42');
    expect(throttled.api.body.errors[0]?.code).toBe('TOO_MANY_REQUESTS');
    const unavailable = await throwEverywhere(new RegistryError('UNAVAILABLE', 'storage down'));
    expect(unavailable.v2.headers['retry-after']).toBe('1');
  });

  it('answers a database outage with 503, Retry-After and its own message, never the driver`s', async () => {
    const { v2, api } = await throwEverywhere(
      new DomainError('DATABASE_UNAVAILABLE', 'connect ECONNREFUSED 10.1.2.3:5432'),
    );
    for (const answer of [v2, api]) {
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('5');
      expect(answer.body.errors[0]?.message).toBe('the metadata database is unavailable; retry later');
    }
    expect(v2.body.errors[0]?.code).toBe('UNAVAILABLE');
    expect(api.body.errors[0]?.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('answers an unknown error with 500 and the request id, never its message or stack', async () => {
    const error = new TypeError('secret internals at /srv/wharf/src/x.ts:12');
    const { v2, api } = await throwEverywhere(error);
    for (const answer of [v2, api]) {
      expect(answer.status).toBe(500);
      const message = answer.body.errors[0]?.message ?? '';
      expect(message).toMatch(/^internal error; request id \S+$/);
      expect(JSON.stringify(answer.body)).not.toContain('secret internals');
    }
    expect(v2.body.errors[0]?.code).toBe('UNKNOWN');
    expect(api.body.errors[0]?.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('answers a schema refusal with 400, naming the field: BAD_REQUEST on the API, a spec code on /v2', async () => {
    const api = await get('/api/v2.0/typed/abc');
    expect(api.status).toBe(400);
    expect(api.body.errors[0]?.code).toBe('BAD_REQUEST');
    expect(api.body.errors[0]?.message).toContain('id');
    const query = await get('/api/v2.0/typed/1?n=99');
    expect([query.status, query.body.errors[0]?.code]).toEqual([400, 'BAD_REQUEST']);
    expect(query.body.errors[0]?.message).toContain('n');
    const v2 = await get('/v2/typed/abc');
    expect([v2.status, v2.body.errors[0]?.code]).toEqual([400, 'NAME_INVALID']);
    const v2Query = await get('/v2/typed/1?n=99');
    expect([v2Query.status, v2Query.body.errors[0]?.code]).toEqual([400, 'UNSUPPORTED']);
    expect((await get('/api/v2.0/typed/1')).status).toBe(200);
  });

  it('answers an unknown route with 405 UNSUPPORTED on /v2 and 404 NOT_FOUND elsewhere', async () => {
    const v2 = await app.inject({ method: 'OPTIONS', url: '/v2/a/tags/list' });
    expect(v2.statusCode).toBe(405);
    expect(v2.headers.allow).toContain('GET');
    expect(v2.json<ErrorBodyShape>().errors[0]?.code).toBe('UNSUPPORTED');
    const other = await get('/api/v2.0/nothing-here');
    expect([other.status, other.body.errors[0]?.code]).toEqual([404, 'NOT_FOUND']);
  });
});
