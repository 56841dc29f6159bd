import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { AppDeps, AppPart } from './app-deps.js';
import { registerApi } from './api/plugin.js';
import { registerErrorHandling, sendError } from './error-handler.js';
import { opsEndpoints } from './ops-endpoints.js';
import { ociRoutes } from './oci/oci-routes.js';
import { rateLimiting } from './rate-limit.js';
import { requestHooks } from './request-hooks.js';
import { registerSessionRoutes } from './session/routes.js';
import { registerTokenRoute } from './token/token-route.js';
import { fastifyTrustProxy, trustProxyWarning } from './trust-proxy.js';

export type { AppDeps, HealthCheck, Lifecycle } from './app-deps.js';

// The Fastify app: an instance with Wharf's server options, then its parts from one list, in order.
// Hooks and rate limiting come first so they cover every route added after them.

const APP_PARTS: readonly AppPart[] = [
  requestHooks,
  rateLimiting,
  (app, deps) => registerErrorHandling(app, errorOptions(deps)),
  ociRoutes,
  (app, deps) => registerTokenRoute(app, deps.ociAccess),
  (app, deps) => registerApi(app, deps.api),
  (app, deps) => registerSessionRoutes(app, deps.api.sessions),
  opsEndpoints,
];

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = createFastify(deps);
  for (const part of APP_PARTS) await part(app, deps);
  return app;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

function errorOptions(deps: AppDeps) {
  return { realm: deps.ociAccess.policy.realm };
}

function createFastify(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Our own onResponse hook writes one access-log line (or none, by configuration).
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Keep-alive connections that are idle are closed at shutdown; busy ones finish first.
    forceCloseConnections: 'idle',
    // Repository names may be long; digests and tags are bounded by the services.
    routerOptions: { maxParamLength: 1024 },
    // Requests that arrive on an open connection while closing are served (see request-hooks.ts).
    return503OnClosing: false,
    // What Fastify refuses before routing (a malformed percent-encoding in the path) is answered
    // in the same error shape as everything else (on /v2: a code from the spec's list).
    frameworkErrors: (error, request, reply) => {
      sendError(error, request as FastifyRequest, reply as FastifyReply, errorOptions(deps));
    },
    trustProxy: fastifyTrustProxy(deps.trustProxy),
  });
  const trustWarning = trustProxyWarning(deps.trustProxy);
  if (trustWarning) deps.logger.warn(trustWarning);
  // Bodies are streams handed to the services untouched: no parser may buffer a blob.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  return app;
}
