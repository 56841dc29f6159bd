import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';

// Issue #11 point 4: /metrics labels API requests by route pattern (never one `route="api"`, never
// a name from the path), and reports jobs, replication, webhook deliveries, event dispatch and
// the bytes of stored blobs.

/** The value of one sample, or undefined when /metrics has no such line. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const body = /\{(.*)\}/.exec(line)?.[1] ?? '';
    const has = Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`));
    if (has) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('metrics', () => {
  let wharf: InProcessWharf;
  let pushedBytes = 0;
  let pushedBlobs = 0;
  beforeAll(async () => {
    wharf = await startInProcessWharf({}, { projects: ['measured'] });
    const pushed = await new OciClient(wharf.url, wharf.adminAuth, wharf.fetch).pushImage(
      'measured/app',
      'v1',
    );
    pushedBytes = pushed.layers.reduce((n, l) => n + l.size, pushed.config.size);
    pushedBlobs = pushed.layers.length + 1;
    // A queued job (not due for a day, so no worker takes it) and a failed replication execution.
    await wharf.server.db.query(
      `INSERT INTO jobs (type, max_attempts, run_at) VALUES ('metrics-probe', 1, now() + interval '1 day')`,
    );
    await wharf.server.db.query(
      `INSERT INTO replication_executions (policy_id, trigger, status) VALUES (424242, 'manual', 'Failed')`,
    );
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('labels API requests by their route pattern', async () => {
    for (const path of ['/api/v2.0/projects/measured', '/api/v2.0/projects/1', '/api/v2.0/projects/nope']) {
      await wharf.call('GET', path, wharf.adminAuth);
    }
    await wharf.call('GET', '/api/v2.0/no/such/route', wharf.adminAuth);
    await wharf.call('GET', '/service/token?service=wharf-registry', wharf.adminAuth);
    const text = (await wharf.call('GET', '/metrics', undefined)).body as string;
    const route = '/api/v2.0/projects/{project_name_or_id}';
    expect(sample(text, 'wharf_http_requests_total', { method: 'GET', route, status: '200' })).toBe(2);
    expect(sample(text, 'wharf_http_requests_total', { method: 'GET', route, status: '404' })).toBe(1);
    expect(sample(text, 'wharf_http_requests_total', { route: 'api-unmatched', status: '404' })).toBe(1);
    expect(sample(text, 'wharf_http_request_duration_seconds_count', { method: 'GET', route })).toBe(3);
    expect(sample(text, 'wharf_http_requests_total', { route: '/service/token', status: '200' })).toBe(1);
    expect(text).not.toContain('route="api"');
    expect(text).not.toContain('measured');
    // /v2 requests keep their operation as the label.
    expect(
      sample(text, 'wharf_http_requests_total', { method: 'PUT', route: 'manifest', status: '201' }),
    ).toBe(1);
  });

  it('reports jobs, replication, webhook deliveries, event dispatch and storage', async () => {
    const text = (await wharf.call('GET', '/metrics', undefined)).body as string;
    expect(sample(text, 'wharf_jobs', { type: 'metrics-probe', status: 'queued' })).toBe(1);
    expect(sample(text, 'wharf_replication_executions', { status: 'Failed' })).toBe(1);
    expect(sample(text, 'wharf_storage_blob_bytes')).toBeGreaterThanOrEqual(pushedBytes);
    expect(sample(text, 'wharf_storage_blobs')).toBeGreaterThanOrEqual(pushedBlobs);
    expect(sample(text, 'wharf_events_oldest_undispatched_seconds')).toBeGreaterThanOrEqual(0);
    expect(text).toContain('# TYPE wharf_webhook_deliveries_total counter');
    expect(text).toContain('# TYPE wharf_replication_tasks gauge');
  });
});
