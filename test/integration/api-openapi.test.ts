import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredApiRoutes } from '../../src/http/api/openapi.js';
import { HARBOR_API_SAMPLE, HARBOR_API_SOURCE } from '../fixtures/harbor-api-paths.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';

// The OpenAPI document at /api/v2.0/openapi.json is built from the route schemas: it must list
// every route the API registered (method and path) and nothing else, and carry Harbor's paths.

interface OpenApiDocument {
  openapi: string;
  servers?: Array<{ url: string }>;
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
}

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'];

/** `/projects/{project_name_or_id}` and `/projects/{project}` name the same route. */
const shape = (path: string) => path.replace(/\{[^}]+\}/g, '{}');

describe('the OpenAPI document of the management API', () => {
  let wharf: InProcessWharf;
  let doc: OpenApiDocument;
  let documented: Set<string>;
  let registered: Set<string>;

  beforeAll(async () => {
    wharf = await startInProcessTestWharf();
    // Public, as Harbor's swagger file: no credentials.
    const res = await wharf.app.inject({ method: 'GET', url: '/api/v2.0/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
    documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => METHODS.includes(m))
          .map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    const routes = registeredApiRoutes(wharf.app).map(({ method, url }) => ({
      method,
      path: url.replace(/^\/api\/v2\.0/, '').replace(/:([A-Za-z0-9_]+)/g, '{$1}'),
    }));
    const gets = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.path));
    registered = new Set(
      routes
        // Fastify answers HEAD for every GET by itself; those are the GET's, not routes of their own.
        .filter((r) => !(r.method === 'HEAD' && gets.has(r.path) && !documented.has(`HEAD ${r.path}`)))
        .filter((r) => r.path !== '/openapi.json')
        .map((r) => `${r.method} ${r.path}`),
    );
  });

  afterAll(async () => {
    await wharf?.close();
  });

  it('is OpenAPI 3 with the API prefix as its server', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.servers).toEqual([{ url: '/api/v2.0' }]);
  });

  it('documents every registered route, and only registered routes', () => {
    expect(registered.size).toBeGreaterThan(80);
    expect([...registered].filter((r) => !documented.has(r)).sort()).toEqual([]);
    expect([...documented].filter((r) => !registered.has(r)).sort()).toEqual([]);
  });

  it(`carries Harbor's paths and methods (${HARBOR_API_SOURCE})`, () => {
    const shapes = new Set([...documented].map(shape));
    const missing = HARBOR_API_SAMPLE.map(([method, path]) => `${method} ${path}`).filter(
      (route) => !shapes.has(shape(route)),
    );
    expect(missing).toEqual([]);
  });

  it('groups the paths by API area', () => {
    const tagsOf = (path: string, method: string) =>
      (doc.paths[path]?.[method] as { tags?: string[] } | undefined)?.tags;
    expect(tagsOf('/projects', 'get')).toEqual(['projects']);
    expect(tagsOf('/robots/{robot_id}', 'patch')).toEqual(['robots']);
    expect(tagsOf('/replication/executions/{id}/tasks', 'get')).toEqual(['replication']);
  });

  it("names the path parameters as Harbor does and documents the routes' queries and bodies", () => {
    const project = doc.paths['/projects/{project_name_or_id}/members/{mid}']?.get;
    expect(project?.parameters?.filter((p) => p.in === 'path').map((p) => p.name)).toEqual([
      'project_name_or_id',
      'mid',
    ]);
    const list = doc.paths['/projects']?.get;
    expect(list?.parameters?.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(
      expect.arrayContaining(['page', 'page_size', 'q', 'name', 'public']),
    );
    const create = doc.paths['/users']?.post as {
      requestBody?: { content: Record<string, { schema: unknown }> };
    };
    expect(create?.requestBody?.content['application/json']?.schema).toMatchObject({
      type: 'object',
      properties: { username: { type: 'string' }, password: { type: 'string' } },
      required: expect.arrayContaining(['username', 'password']),
    });
  });
});
