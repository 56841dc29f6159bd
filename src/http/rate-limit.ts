import rateLimit from '@fastify/rate-limit';
import { RegistryError } from '../domain/errors.js';
import type { AppPart } from './app-deps.js';

// limits.requests_per_minute per client address. With Redis the counters are the cluster's (a
// client is limited however the load balancer spreads it); without, each instance counts alone.
// While Redis is down requests are let through rather than refused: the limit is protection, not
// a dependency.

export const rateLimiting: AppPart = async (app, deps) => {
  if (deps.requestsPerMinute <= 0) return;
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
};
