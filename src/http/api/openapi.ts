import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { ApiInstance } from './area.js';

// The OpenAPI document of the management API, built from the routes' zod schemas: paths as
// Harbor's swagger names them (relative to the server URL /api/v2.0), served at
// /api/v2.0/openapi.json. Harbor's own document is a Swagger 2.0 file its portal serves at
// /swagger.json; Wharf publishes OpenAPI 3 at the API's own address instead.

export const API_PREFIX = '/api/v2.0';
export const OPENAPI_PATH = '/openapi.json';

export interface ApiRoute {
  method: string;
  /** The full path with Fastify's parameters, e.g. /api/v2.0/projects/:project_name_or_id. */
  url: string;
}

/** Every route the API registered, per application: what the OpenAPI test checks the document against. */
const registered = new WeakMap<FastifyInstance, ApiRoute[]>();

export function registeredApiRoutes(app: FastifyInstance): readonly ApiRoute[] {
  return registered.get(app) ?? [];
}

/**
 * Adds the document builder to the API's instance (before any route, so it sees them all) and
 * records every route for registeredApiRoutes.
 */
export async function registerOpenApi(
  app: FastifyInstance,
  api: ApiInstance,
  version: string,
): Promise<void> {
  const routes: ApiRoute[] = [];
  registered.set(app, routes);
  api.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routes.push({ method, url: route.url });
  });
  await api.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Wharf management API (Harbor-compatible)',
        description: "Harbor's /api/v2.0 paths, parameters and bodies as Wharf implements them.",
        version,
      },
      servers: [{ url: API_PREFIX }],
    },
    transform: jsonSchemaTransform,
  });
}

/** GET /api/v2.0/openapi.json: the document, public like Harbor's swagger file. */
export function registerOpenApiRoute(api: ApiInstance): void {
  api.get(OPENAPI_PATH, { schema: { hide: true } }, async () => api.swagger());
}
