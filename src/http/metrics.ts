import type { FastifyRequest } from 'fastify';
import client from 'prom-client';
import type { SystemSnapshot } from '../services/system-metrics.js';
import { parseOciPath } from './oci/routes.js';

// Prometheus metrics of one process. A fresh registry per app keeps tests independent. Requests
// are labelled by route: the /v2 operation (manifest, blob, upload ...) or the API's route pattern
// in Harbor's spelling (/api/v2.0/projects/{project_name_or_id}), so a label never carries a name.

export interface HttpMetrics {
  registry: client.Registry;
  requests: client.Counter<'method' | 'route' | 'status'>;
  duration: client.Histogram<'method' | 'route'>;
  bytesReceived: client.Counter;
  bytesSent: client.Counter;
  lookupCache: client.Counter<'outcome'>;
  /** Webhook deliveries by outcome (succeeded, failed, retrying ...), counted by the webhook jobs. */
  webhookDeliveries: client.Counter<'status'>;
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
  const webhookDeliveries = new client.Counter({
    name: 'wharf_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  return { registry, requests, duration, bytesReceived, bytesSent, lookupCache, webhookDeliveries };
}

/**
 * The label of a request: its /v2 operation, else its route pattern in Harbor's spelling
 * (/api/v2.0/projects/{project_name_or_id}, /service/token, /c/login). A path no route matches is
 * one label (`api-unmatched`, `other`), never one per path a client made up.
 */
export function routeLabel(request: FastifyRequest): string {
  const path = request.url.split('?', 1)[0] as string;
  if (path.startsWith('/v2')) return parseOciPath(path)?.kind ?? 'v2-unknown';
  const pattern = request.routeOptions.url;
  if (pattern !== undefined && !pattern.includes('*')) return pattern.replace(/:(\w+)/g, '{$1}');
  return path.startsWith('/api/') ? 'api-unmatched' : 'other';
}

const JOB_STATUS: Record<string, string> = { pending: 'queued', running: 'running', error: 'failed' };

/**
 * Cluster-wide gauges read from the database on scrape (through a short cache): jobs queued,
 * running and failed per type, replication executions and tasks by status, blob storage in use,
 * and how far event dispatch lags behind.
 */
export function registerSystemMetrics(
  registry: client.Registry,
  snapshot: () => Promise<SystemSnapshot>,
): void {
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: client.Gauge<L>, s: SystemSnapshot) => void,
  ) =>
    new client.Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        fill(this, s);
      },
    });
  gauge('wharf_jobs', 'Jobs by type and state: queued, running, failed', ['type', 'status'], (g, s) => {
    for (const j of s.jobs)
      g.set({ type: j.labels.type, status: JOB_STATUS[j.labels.status ?? ''] ?? '' }, j.count);
  });
  gauge('wharf_replication_executions', 'Replication executions by status', ['status'], (g, s) => {
    for (const e of s.replicationExecutions) g.set({ status: e.labels.status }, e.count);
  });
  gauge(
    'wharf_replication_tasks',
    'Replication tasks by operation and status',
    ['operation', 'status'],
    (g, s) => {
      for (const t of s.replicationTasks)
        g.set({ operation: t.labels.operation, status: t.labels.status }, t.count);
    },
  );
  gauge('wharf_storage_blob_bytes', 'Bytes of the blobs stored (each digest counted once)', [], (g, s) => {
    g.set(s.storage.bytes);
  });
  gauge('wharf_storage_blobs', 'Blobs stored (each digest counted once)', [], (g, s) => {
    g.set(s.storage.blobs);
  });
  gauge(
    'wharf_events_oldest_undispatched_seconds',
    'Age of the oldest event not yet dispatched',
    [],
    (g, s) => {
      g.set(s.events.oldestSeconds);
    },
  );
}
