import client from 'prom-client';

// Prometheus metrics of one process. A fresh registry per app keeps tests independent.

export interface HttpMetrics {
  registry: client.Registry;
  requests: client.Counter<'method' | 'route' | 'status'>;
  duration: client.Histogram<'method' | 'route'>;
  bytesReceived: client.Counter;
  bytesSent: client.Counter;
  lookupCache: client.Counter<'outcome'>;
}

export function createMetrics(openUploads: () => Promise<number>): HttpMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'wharf_' });
  const requests = new client.Counter({
    name: 'wharf_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'wharf_http_request_duration_seconds',
    help: 'HTTP request duration by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const bytesReceived = new client.Counter({
    name: 'wharf_registry_bytes_received_total',
    help: 'Blob and manifest bytes received from clients',
    registers: [registry],
  });
  const bytesSent = new client.Counter({
    name: 'wharf_registry_bytes_sent_total',
    help: 'Blob and manifest bytes sent to clients',
    registers: [registry],
  });
  new client.Gauge({
    name: 'wharf_registry_open_uploads',
    help: 'Blob upload sessions in progress (cluster-wide)',
    registers: [registry],
    async collect() {
      this.set(await openUploads());
    },
  });
  const lookupCache = new client.Counter({
    name: 'wharf_lookup_cache_total',
    help: 'Hot-path lookups by outcome: hit, miss, or bypass (cache off: Redis unreachable)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return { registry, requests, duration, bytesReceived, bytesSent, lookupCache };
}
