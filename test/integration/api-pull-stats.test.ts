import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciClient } from '../helpers/oci-client.js';
import { adminAuth } from '../helpers/server.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';

const ZERO_TIME = '0001-01-01T00:00:00.000Z';

describe('pull times, pull counts and repository descriptions', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: ['stats'] });
  });
  afterAll(async () => {
    await wharf?.close();
  });

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${wharf.url}/api/v2.0${path}`, { headers: { authorization: adminAuth(wharf) } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };

  it('records pulls by tag: repository pull_count, artifact and tag pull_time', async () => {
    const client = new OciClient(wharf.url, adminAuth(wharf));
    await client.pushImage('stats/app', 'v1');
    const before = await get<{ pull_time: string; tags: Array<{ pull_time: string }> }>(
      '/projects/stats/repositories/app/artifacts/v1',
    );
    expect(before.pull_time).toBe(ZERO_TIME);
    for (let i = 0; i < 3; i++)
      expect((await client.request('GET', '/v2/stats/app/manifests/v1')).status).toBe(200);
    // HEAD is not a pull of the content.
    expect((await client.request('HEAD', '/v2/stats/app/manifests/v1')).status).toBe(200);

    // Pulls are written in batches, within about a second.
    await expect
      .poll(async () => (await get<{ pull_count: number }>('/projects/stats/repositories/app')).pull_count, {
        timeout: 10_000,
        interval: 200,
      })
      .toBe(3);
    const after = await get<{ pull_time: string; tags: Array<{ name: string; pull_time: string }> }>(
      '/projects/stats/repositories/app/artifacts/v1',
    );
    expect(after.pull_time).not.toBe(ZERO_TIME);
    expect(Date.parse(after.pull_time)).toBeGreaterThan(Date.now() - 60_000);
    expect(after.tags.find((t) => t.name === 'v1')?.pull_time).not.toBe(ZERO_TIME);
  });

  it('PUT sets a repository description; bad input is a 400', async () => {
    const put = (body: unknown) =>
      fetch(`${wharf.url}/api/v2.0/projects/stats/repositories/app`, {
        method: 'PUT',
        headers: { authorization: adminAuth(wharf), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await put({ description: 'the app' })).status).toBe(200);
    expect((await get<{ description: string }>('/projects/stats/repositories/app')).description).toBe(
      'the app',
    );
    expect((await put({ description: 42 })).status).toBe(400);
    expect((await put({ description: 'x'.repeat(2000) })).status).toBe(400);
  });
});
