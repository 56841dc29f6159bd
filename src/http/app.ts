import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';

import { RegistryError } from '../domain/errors.js';
import { DatabaseUnavailableError } from '../metadata/database.js';
import type { AuthService } from '../services/auth-service.js';
import { ERROR_CATALOGUE, ociErrorBody } from './error-catalogue.js';
import type { HttpMetrics } from './metrics.js';
import { authorizeOci, mayPull, mayStateOrigins, type OciAccessDeps } from './oci/access.js';
import { registerTokenRoute } from './token/token-route.js';
import { registerApi, type ApiDeps } from './api/plugin.js';
import { registerSessionRoutes } from './session/routes.js';
import { ProjectMissingError } from '../metadata/repositories-table.js';
import { handleOciRoute, type OciAuditEvent, type OciServices } from './oci/handlers.js';
import type { AuditService } from '../services/audit-service.js';
import type { PullStatsService } from '../services/pull-stats-service.js';
import { principalName, type Principal } from '../services/principal.js';
import { parseOciPath } from './oci/routes.js';
import { uploadOwner } from '../services/registry/upload-service.js';
import type { TrustProxySetting } from '../config/network-schema.js';
import { fastifyTrustProxy, trustProxyWarning } from './trust-proxy.js';

export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

export interface AppDeps {
  logger: FastifyBaseLogger;
  logRequests: boolean;
  oci: OciServices;
  auth: AuthService;
  /** Who may do what on /v2 and in the token service. */
  ociAccess: OciAccessDeps;
  api: ApiDeps;
  audit: AuditService;
  pullStats: PullStatsService;
  metrics: HttpMetrics;
  health: HealthCheck[];
  /** Whose X-Forwarded-* headers to believe (http.trust_proxy; see trust-proxy.ts). */
  trustProxy: TrustProxySetting;
  /** Requests per minute per client address; 0 turns the limit off. */
  requestsPerMinute: number;
  /** Shared rate-limit counters (Redis); null: counted per process. */
  rateLimitStore: { redis: Redis; nameSpace: string } | null;
  /** Named in every response's X-Wharf-Instance header. */
  instanceName: string;
  lifecycle: Lifecycle;
  /** Called after a manifest push or delete (replication's event triggers). */
  replicationEvents?: (
    event: { repository: string; tag: string | null; operation: 'create' | 'delete' },
    principal: Principal,
  ) => Promise<void>;
}

/**
 * Where the instance is in its life. Draining (after SIGTERM): /readyz says 503 so the load
 * balancer takes the instance out, while requests are still served (each response closes its
 * connection, so the balancer's kept-alive connections go away). Then the listener is shut and
 * in-flight requests finish (src/wharf.ts).
 */
export interface Lifecycle {
  isDraining(): boolean;
}

const OCI_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
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
    // Requests that arrive on an open connection while closing are served (see onRequest).
    return503OnClosing: false,
    // What Fastify refuses before routing (a malformed percent-encoding in the path) is answered
    // in the same error shape as everything else (on /v2: a code from the spec's list).
    frameworkErrors: (error, request, reply) => {
      sendError(error, request as FastifyRequest, reply as FastifyReply, deps);
    },
    trustProxy: fastifyTrustProxy(deps.trustProxy),
  });
  const trustWarning = trustProxyWarning(deps.trustProxy);
  if (trustWarning) deps.logger.warn(trustWarning);

  // Bodies are streams handed to the services untouched: no parser may buffer a blob.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  if (deps.requestsPerMinute > 0) {
    // With Redis the counters are the cluster's (a client is limited however the load balancer
    // spreads it); without, each instance counts alone. While Redis is down requests are let
    // through rather than refused: the limit is protection, not a dependency.
    await app.register(rateLimit, {
      global: true,
      ...(deps.rateLimitStore && {
        redis: deps.rateLimitStore.redis,
        nameSpace: deps.rateLimitStore.nameSpace,
        skipOnError: true,
      }),
      max: deps.requestsPerMinute,
      timeWindow: 60_000,
      // Load balancers' probes and scrapes must never be throttled.
      allowList: (req) => /^\/(api\/v2\.0\/(ping|health)|metrics|livez|readyz)(\?|$)/.test(req.url),
      errorResponseBuilder: (_req, context) =>
        new RegistryError('TOOMANYREQUESTS', `too many requests; retry in ${context.after}`, {
          retryAfterSeconds: Math.ceil(context.ttl / 1000),
        }),
    });
  }

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-wharf-instance', deps.instanceName);
    if (request.url.startsWith('/v2')) reply.header('docker-distribution-api-version', 'registry/2.0');
    // Draining or closing, a request that still arrives (on a connection the load balancer kept
    // open) is served, and its connection closed after the response: refusing it would turn a
    // request the balancer cannot retry (a PATCH whose body it sent) into a client error.
    if (deps.lifecycle.isDraining()) reply.header('connection', 'close');
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = routeLabel(request);
    deps.metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    deps.metrics.duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    if (deps.logRequests) {
      request.log.info(
        {
          method: request.method,
          url: redactQuery(request.url),
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        'request',
      );
    }
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) =>
    sendError(error, request, reply, deps),
  );
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] as string;
    if (path === '/v2' || path.startsWith('/v2/')) {
      // The /v2 routes take every method the API uses: anything else is an unsupported operation.
      reply
        .code(405)
        .header('allow', OCI_METHODS.join(', '))
        .send(ociErrorBody('UNSUPPORTED', `method ${request.method} is not supported by the registry API`));
      return;
    }
    reply.code(404).send(ociErrorBody('NOT_FOUND', `no route for ${request.method} ${path}`));
  });

  const ociHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?', 1)[0] as string;
    const route = parseOciPath(path);
    if (!route) {
      throw new RegistryError(
        'NAME_INVALID',
        `no registry endpoint matches ${path.slice(0, 200)}`,
        undefined,
        404,
      );
    }
    const principal = await authorizeOci(request, reply, route, deps.ociAccess);
    const audit = async (event: OciAuditEvent) => {
      // The project id is resolved by the insert itself: no lookup on the pull path.
      const entry = {
        projectId: null,
        projectName: event.repository.split('/')[0] as string,
        operator: principalName(principal),
        resourceType: event.resourceType,
        resource: event.resource,
        clientIp: request.ip,
      };
      if (event.operation === 'pull') {
        deps.audit.recordPull(entry);
        if (event.digest) deps.pullStats.record(event.repository, event.digest, event.tag ?? null);
      } else {
        await deps.audit.record({ ...entry, operation: event.operation });
        // Event-based replication: one durable job per push or delete, before the client's answer.
        await deps.replicationEvents?.(
          { repository: event.repository, tag: event.tag ?? null, operation: event.operation },
          principal,
        );
      }
    };
    await handleOciRoute(
      {
        ...deps.oci,
        mayPullFrom: (name) => mayPull(principal, name, deps.ociAccess),
        mayStateOrigins: () => mayStateOrigins(principal, deps.ociAccess),
        uploadOwner: uploadOwner(principal),
        audit,
      },
      route,
      request,
      reply,
    );
  };
  app.route({ method: [...OCI_METHODS], url: '/v2', handler: ociHandler });
  app.route({ method: [...OCI_METHODS], url: '/v2/*', handler: ociHandler });

  registerTokenRoute(app, deps.ociAccess, deps.audit);
  await registerApi(app, deps.api);
  await registerSessionRoutes(app, deps.api.sessions, deps.audit);

  app.get('/api/v2.0/ping', async (_request, reply) => reply.type('text/plain').send('Pong'));
  // Liveness: the process answers. Readiness: it wants traffic. Shared dependencies (database,
  // Redis, storage) are deliberately not part of readiness: when one is down every instance is
  // affected alike, and a client is better served by Wharf's own 503 with Retry-After than by a
  // load balancer with no instance left. /api/v2.0/health reports them.
  app.get('/livez', async (_request, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_request, reply) => {
    if (deps.lifecycle.isDraining()) {
      reply.code(503).header('retry-after', '1').type('text/plain').send('draining');
      return;
    }
    reply.type('text/plain').send('ready');
  });
  app.get('/api/v2.0/health', async (_request, reply) => {
    const components = await Promise.all(
      deps.health.map(async (h) => {
        try {
          await withTimeout(h.check(), 5_000);
          return { name: h.name, status: 'healthy' };
        } catch (err) {
          return {
            name: h.name,
            status: 'unhealthy',
            error: err instanceof Error ? err.message : String(err),
          };
        }
      }),
    );
    const healthy = components.every((c) => c.status === 'healthy');
    reply.code(healthy ? 200 : 503).send({ status: healthy ? 'healthy' : 'unhealthy', components });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return app;
}

function sendError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: AppDeps,
): void {
  if (error instanceof RegistryError) {
    const entry = ERROR_CATALOGUE[error.code];
    const status = error.status ?? entry.status;
    if (status === 401 && !reply.hasHeader('www-authenticate')) {
      // Every 401 carries a challenge; /v2 sets a precise one before throwing.
      reply.header('www-authenticate', `Basic realm="${deps.ociAccess.policy.realm}", charset="UTF-8"`);
    }
    if (status === 416 && isObject(error.detail)) {
      if (typeof error.detail.size === 'number')
        reply.header('content-range', `bytes */${error.detail.size}`);
      if (typeof error.detail.offset === 'number')
        reply.header('range', `0-${Math.max(error.detail.offset - 1, 0)}`);
    }
    if (status === 503) reply.header('retry-after', '1');
    if (status === 429 && isObject(error.detail) && typeof error.detail.retryAfterSeconds === 'number') {
      reply.header('retry-after', String(error.detail.retryAfterSeconds));
    }
    drain(request);
    reply.code(status).send(ociErrorBody(entry.code, error.message, error.detail));
    return;
  }
  if (error instanceof ProjectMissingError) {
    drain(request);
    reply.code(404).send(ociErrorBody('NAME_UNKNOWN', `${error.message}; create it first`));
    return;
  }
  if (error instanceof DatabaseUnavailableError) {
    request.log.warn({ err: error.message }, 'database unavailable');
    drain(request);
    reply
      .code(503)
      .header('retry-after', '5')
      .send(ociErrorBody('UNAVAILABLE', 'the metadata database is unavailable; retry later'));
    return;
  }
  const statusCode = (error as FastifyError).statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // Requests Fastify itself refuses (malformed framing and the like). On /v2 the body must use a
    // code from the spec's list; UNSUPPORTED is the one that says "this request cannot be served".
    const onRegistryApi = request.url.startsWith('/v2');
    reply.code(statusCode).send(ociErrorBody(onRegistryApi ? 'UNSUPPORTED' : 'BAD_REQUEST', error.message));
    return;
  }
  request.log.error({ err: error }, 'unhandled error');
  drain(request);
  reply.code(500).send(ociErrorBody('UNKNOWN', `internal error; request id ${request.id}`));
}

/** Discards an unread request body so the connection can be reused (or closed cleanly). */
function drain(request: FastifyRequest): void {
  if (!request.raw.readableEnded && !request.raw.destroyed) request.raw.resume();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Upload URLs carry digests only, but never log query strings verbatim beyond a bound. */
function redactQuery(url: string): string {
  return url.length > 300 ? `${url.slice(0, 297)}...` : url;
}

function routeLabel(request: FastifyRequest): string {
  const path = request.url.split('?', 1)[0] as string;
  if (path.startsWith('/v2')) return parseOciPath(path)?.kind ?? 'v2-unknown';
  if (path.startsWith('/api/')) return 'api';
  if (path === '/metrics') return 'metrics';
  return 'other';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
