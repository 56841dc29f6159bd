import type { Redis } from 'ioredis';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { TrustProxySetting } from '../config/network-schema.js';
import type { AuthService } from '../services/auth-service.js';
import type { PullStatsService } from '../services/pull-stats-service.js';
import type { ApiDeps } from './api/plugin.js';
import type { HttpMetrics } from './metrics.js';
import type { OciAccessDeps } from './oci/access.js';
import type { OciServices } from './oci/handlers.js';

// What the HTTP layer is given by the composition root (src/wiring/app-deps.ts builds it), and the
// shape of the parts the app is assembled from (src/http/app.ts lists them).

export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

/**
 * Where the instance is in its life. Draining (after SIGTERM): /readyz says 503 so the load
 * balancer takes the instance out, while requests are still served (each response closes its
 * connection, so the balancer's kept-alive connections go away). Then the listener is shut and
 * in-flight requests finish (src/wiring/shutdown.ts).
 */
export interface Lifecycle {
  isDraining(): boolean;
}

export interface AppDeps {
  logger: FastifyBaseLogger;
  logRequests: boolean;
  /** The /v2 services; the actor is the caller of each request. */
  oci: Omit<OciServices, 'actor'>;
  auth: AuthService;
  /** Who may do what on /v2 and in the token service. */
  ociAccess: OciAccessDeps;
  api: ApiDeps;
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
}

/** One part of the app: adds its hooks or routes to the root instance (order matters: app.ts). */
export type AppPart = (app: FastifyInstance, deps: AppDeps) => void | Promise<void>;
