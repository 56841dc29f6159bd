import type { AppPart, HealthCheck } from './app-deps.js';

// The endpoints operators and load balancers call: ping, liveness, readiness, health, metrics.
// Liveness: the process answers. Readiness: it wants traffic. Shared dependencies (database,
// Redis, storage) are deliberately not part of readiness: when one is down every instance is
// affected alike, and a client is better served by Wharf's own 503 with Retry-After than by a
// load balancer with no instance left. /api/v2.0/health reports them.

export const opsEndpoints: AppPart = (app, deps) => {
  app.get('/api/v2.0/ping', async (_request, reply) => reply.type('text/plain').send('Pong'));
  app.get('/livez', async (_request, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_request, reply) => {
    if (deps.lifecycle.isDraining()) {
      reply.code(503).header('retry-after', '1').type('text/plain').send('draining');
      return;
    }
    reply.type('text/plain').send('ready');
  });
  app.get('/api/v2.0/health', async (_request, reply) => {
    const components = await Promise.all(deps.health.map(componentHealth));
    const healthy = components.every((c) => c.status === 'healthy');
    reply.code(healthy ? 200 : 503).send({ status: healthy ? 'healthy' : 'unhealthy', components });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
};

async function componentHealth(
  h: HealthCheck,
): Promise<{ name: string; status: 'healthy' | 'unhealthy'; error?: string }> {
  try {
    await withTimeout(h.check(), 5_000);
    return { name: h.name, status: 'healthy' };
  } catch (err) {
    return { name: h.name, status: 'unhealthy', error: err instanceof Error ? err.message : String(err) };
  }
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
