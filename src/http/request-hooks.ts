import type { AppPart } from './app-deps.js';
import { routeLabel } from './metrics.js';

// Headers every response carries, and one metrics sample and access-log line per request.

export const requestHooks: AppPart = (app, deps) => {
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
};

/** Upload URLs carry digests only, but never log query strings verbatim beyond a bound. */
function redactQuery(url: string): string {
  return url.length > 300 ? `${url.slice(0, 297)}...` : url;
}
