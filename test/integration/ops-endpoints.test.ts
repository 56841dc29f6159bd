import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';

describe('operations endpoints', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessTestWharf();
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('GET /api/v2.0/ping answers Pong', async () => {
    const res = await wharf.fetch(`${wharf.url}/api/v2.0/ping`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Pong');
  });

  it('GET /api/v2.0/health reports database, storage and jobs', async () => {
    const res = await wharf.fetch(`${wharf.url}/api/v2.0/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      components: Array<{ name: string; status: string }>;
    };
    expect(body.status).toBe('healthy');
    expect(body.components.map((c) => c.name).sort()).toEqual(['database', 'jobs', 'storage']);
    expect(body.components.every((c) => c.status === 'healthy')).toBe(true);
  });

  it('names the instance in every response (X-Wharf-Instance), success or error', async () => {
    for (const [path, status] of [
      ['/api/v2.0/ping', 200],
      ['/v2/', 401],
      ['/no/such/route', 404],
      ['/readyz', 200],
      ['/livez', 200],
    ] as const) {
      const res = await wharf.fetch(`${wharf.url}${path}`);
      expect(res.status, path).toBe(status);
      // Default name: host name and port.
      expect(res.headers.get('x-wharf-instance'), path).toMatch(new RegExp(`:${wharf.port}$`));
    }
  });

  it('echoes a valid X-Request-Id and makes one up otherwise', async () => {
    const given = await wharf.fetch(`${wharf.url}/api/v2.0/ping`, {
      headers: { 'x-request-id': 'trace-42' },
    });
    expect(given.headers.get('x-request-id')).toBe('trace-42');
    const made = await wharf.fetch(`${wharf.url}/api/v2.0/ping`, {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('exposes Prometheus metrics for requests, durations, bytes and open uploads', async () => {
    const blob = Buffer.from('metrics test blob');
    const { createHash } = await import('node:crypto');
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const push = await wharf.fetch(`${wharf.url}/v2/ops/metrics/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { authorization: adminAuth(wharf), 'content-type': 'application/octet-stream' },
      body: blob,
    });
    expect(push.status).toBe(201);
    const open = await wharf.fetch(`${wharf.url}/v2/ops/metrics/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: adminAuth(wharf) },
    });
    expect(open.status).toBe(202);
    const res = await wharf.fetch(`${wharf.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/wharf_http_requests_total\{method="POST",route="uploads",status="201"\} \d+/);
    expect(text).toMatch(/wharf_http_request_duration_seconds_bucket\{/);
    const received = /wharf_registry_bytes_received_total (\d+)/.exec(text);
    expect(Number(received?.[1])).toBeGreaterThanOrEqual(blob.length);
    expect(text).toMatch(/wharf_registry_open_uploads [1-9]/);

    // A chunk counts what it added, once.
    const chunk = Buffer.alloc(1000, 7);
    const patched = await wharf.fetch(new URL(open.headers.get('location') ?? '', wharf.url), {
      method: 'PATCH',
      headers: { authorization: adminAuth(wharf), 'content-type': 'application/octet-stream' },
      body: chunk,
    });
    expect(patched.status).toBe(202);
    const after = /wharf_registry_bytes_received_total (\d+)/.exec(
      await (await wharf.fetch(`${wharf.url}/metrics`)).text(),
    );
    expect(Number(after?.[1]) - Number(received?.[1])).toBe(chunk.length);
  });
});

describe('request rate limit', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    // No test projects: creating them would use up requests of the limit before the test starts.
    wharf = await startInProcessTestWharf({ projects: [], extraConfig: 'limits:\n  requests_per_minute: 5' });
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('answers 429 TOOMANYREQUESTS with Retry-After past the limit', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 7; i++) {
      last = await wharf.fetch(`${wharf.url}/v2/`, { headers: { authorization: adminAuth(wharf) } });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[6]).toBe(429);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await last?.json()) as { errors: Array<{ code: string }> };
    expect(body.errors[0]?.code).toBe('TOOMANYREQUESTS');
  });
});

describe('methods outside the registry API', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessTestWharf();
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('answer 405 UNSUPPORTED with Allow on /v2 paths, 404 elsewhere', async () => {
    const res = await wharf.fetch(`${wharf.url}/v2/a/tags/list`, {
      method: 'OPTIONS',
      headers: { authorization: adminAuth(wharf) },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
    expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('UNSUPPORTED');
    const other = await wharf.fetch(`${wharf.url}/nothing-here`);
    expect(other.status).toBe(404);
  });
});
