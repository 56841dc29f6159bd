import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciClient } from '../helpers/oci-client.js';
import { freePort } from '../helpers/ports.js';
import { adminApi } from '../helpers/replication.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { adminAuth, DEFAULT_TEST_PROJECTS } from '../helpers/server.js';
import { waitFor } from '../helpers/poll.js';

// replication.retry_backoff_seconds and retry_backoff_max_seconds reach the job service: work
// whose peer is unreachable is tried again after the configured wait (plus the job service's jitter
// of at most 20%), not after the 2 s default. The figures are read from the task's job log, where
// the job service writes the wait it chose; nothing here is timed.

const BACKOFF_SECONDS = 120;

describe('replication retry backoff setting', () => {
  let wharf: InProcessWharf;
  let api: ReturnType<typeof adminApi>;

  beforeAll(async () => {
    wharf = await startInProcessWharf(
      { replication: { retry_backoff_seconds: BACKOFF_SECONDS, retry_backoff_max_seconds: BACKOFF_SECONDS } },
      { projects: DEFAULT_TEST_PROJECTS },
    );
    api = adminApi(wharf);
  }, 120_000);

  afterAll(async () => {
    await wharf?.close();
  }, 60_000);

  it('waits the configured time before trying an unreachable peer again', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const peer = await api.create('/registries', {
      name: 'nowhere',
      url: nowhere,
      type: 'harbor',
      insecure: true,
    });
    const policy = await api.create('/replication/policies', {
      name: 'to-nowhere',
      dest_registry: { id: peer },
      filters: [{ type: 'name', value: 'test/backoff' }],
      trigger: { type: 'event_based' },
    });
    await new OciClient(wharf.url, adminAuth(wharf)).pushImage('test/backoff', 'v1');

    // The event's run plans first, and planning needs the destination: its job fails and waits.
    // Executions do not show their job (Harbor's shape has no such field), so the job service's
    // logs are read by id, as a monitor would: a fresh instance has made only a few jobs.
    const [execution] = await waitFor(
      'the event run',
      async () => {
        const list = await api.json<{ id: number; status: string }[]>(
          'GET',
          `/replication/executions?policy_id=${policy}&page_size=10`,
        );
        return list.length > 0 ? list : undefined;
      },
      60_000,
      250,
    );
    const waits = await waitFor(
      'a failed planning attempt in a job log',
      async () => {
        for (let id = 1; id <= 200; id++) {
          const res = await api.call('GET', `/jobservice/jobs/${id}/log`);
          if (res.status === 404) break;
          const text = await res.text();
          if (!/attempt \d+ failed: .*ECONNREFUSED/.test(text)) continue;
          const found = [...text.matchAll(/retry in ([\d.]+) s/g)].map((m) => Number(m[1]));
          if (found.length > 0) return found;
        }
        return undefined;
      },
      60_000,
      500,
    );
    for (const seconds of waits) {
      expect(seconds).toBeGreaterThanOrEqual(BACKOFF_SECONDS);
      expect(seconds).toBeLessThanOrEqual(BACKOFF_SECONDS * 1.2);
    }
    // Still waiting, not failed: the deadline is a day away; the run says what it waits for.
    const waiting = await api.execution(execution?.id ?? 0);
    expect(waiting.status).toBe('InProgress');
    expect(waiting.status_text).toMatch(
      /^planning attempt 1 failed, retrying: GET http:\/\/127\.0\.0\.1:\d+.*: ECONNREFUSED$/,
    );
  }, 150_000);
});
