import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { eventually } from '../helpers/poll.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

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

describe('webhook delivery metrics', () => {
  let wharf: InProcessWharf;
  let receiver: WebhookReceiver;
  const deliveries = async (status: string) => {
    const text = (await wharf.call('GET', '/metrics', undefined)).body as string;
    return sample(text, 'wharf_webhook_deliveries_total', { status }) ?? 0;
  };
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    // Short retries, and a deadline (7.2 s) that a failing delivery reaches within the test.
    wharf = await startInProcessWharf(
      {
        webhooks: { retry_backoff_seconds: 0.1, retry_backoff_max_seconds: 0.5, retry_deadline_hours: 0.002 },
      },
      { projects: ['hooked'] },
    );
    const policy = await wharf.call('POST', '/api/v2.0/projects/hooked/webhook/policies', wharf.adminAuth, {
      name: 'counted',
      event_types: ['PUSH_ARTIFACT'],
      targets: [{ type: 'http', address: `${receiver.url}/hook` }],
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
  });
  afterAll(async () => {
    await wharf?.close();
    await receiver?.close();
  });

  it('counts each attempt by how it ended: retrying, failed at the deadline, succeeded', async () => {
    const client = new OciClient(wharf.url, wharf.adminAuth, wharf.fetch);
    receiver.status = 500;
    await client.pushImage('hooked/app', 'v1');
    await eventually(
      'a retried delivery',
      () => deliveries('retrying'),
      (n) => n >= 1,
    );
    await eventually(
      'the delivery failed at its deadline',
      () => deliveries('failed'),
      (n) => n === 1,
    );
    expect(await deliveries('succeeded')).toBe(0);
    receiver.status = 200;
    await client.pushImage('hooked/app', 'v2');
    await eventually(
      'a delivered push',
      () => deliveries('succeeded'),
      (n) => n === 1,
    );
    expect(await deliveries('failed')).toBe(1);
    expect(receiver.received).toHaveLength(1);
  });
});
