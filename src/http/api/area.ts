import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from './plugin.js';

// One API area (projects, users, robots ...) is one Fastify plugin. It names the services it
// needs and receives only those, so an area cannot reach into another's services by accident.

/** The management API's Fastify instance, typed by the zod schemas of its routes. */
export type ApiInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface ApiArea {
  readonly name: string;
  /** Registers the area's routes on its own encapsulated instance. */
  register(api: ApiInstance, deps: ApiDeps): void | Promise<void>;
}

/** Declares an area: its name, the services it needs and the function adding its routes. */
export function apiArea<K extends keyof ApiDeps>(
  name: string,
  needs: readonly K[],
  routes: (api: ApiInstance, deps: Pick<ApiDeps, K>) => void | Promise<void>,
): ApiArea {
  return {
    name,
    register: (api, deps) => {
      // The area's name is its routes' tag in the OpenAPI document, as Harbor groups its paths.
      api.addHook('onRoute', (route) => {
        route.schema = { ...route.schema, tags: [name] };
      });
      return routes(api, pickDeps(deps, needs));
    },
  };
}

function pickDeps<K extends keyof ApiDeps>(deps: ApiDeps, needs: readonly K[]): Pick<ApiDeps, K> {
  const picked: Partial<Pick<ApiDeps, K>> = {};
  for (const key of needs) picked[key] = deps[key];
  // Every key in `needs` was copied above, which is what Pick<ApiDeps, K> promises.
  return picked as Pick<ApiDeps, K>;
}
