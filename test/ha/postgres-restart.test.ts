import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { componentStatus, startCluster, type Cluster } from '../helpers/cluster.js';
import {
  operationsFinished,
  pullAndVerify,
  pushSmallImage,
  startLoad,
  summarize,
  type PushedRef,
} from '../helpers/load-generator.js';
import { OCI_MANIFEST } from '../helpers/oci-client.js';
import { eventually } from '../helpers/poll.js';

// PostgreSQL stopped (fast shutdown) under push and pull load, then started again on the same
// port and data directory. While it is down every request answers quickly (bounded; nothing
// hangs): writes get 503 UNAVAILABLE with a Retry-After, reads either succeed (from cache and
// storage) or get the same 503. When it is back, everything recovers by itself: pushes and pulls
// succeed again within a bounded time on every instance and through the load balancer, no instance
// was restarted, and `wharf fsck` finds the store clean.

const ANSWER_BOUND_MS = 10_000;
const OUTAGE_MS = 8_000;

let cluster: Cluster;
let seed: PushedRef;

beforeAll(async () => {
  cluster = await startCluster({ instances: 3, redis: 'plain', loadBalancer: 'nginx' });
  seed = await pushSmallImage(cluster.client(), 'test/ha-pg/seed', 'v1', { layerBytes: 4096 });
});

afterAll(async () => {
  await cluster?.stop();
});

interface Probe {
  target: string;
  request: string;
  status?: number;
  retryAfter?: string | null;
  code?: string;
  ms: number;
  error?: string;
}

async function probe(target: string, url: string, request: 'start upload' | 'get manifest'): Promise<Probe> {
  const t = Date.now();
  const path =
    request === 'start upload'
      ? '/v2/test/ha-pg/probe/blobs/uploads/'
      : `/v2/${seed.repository}/manifests/${seed.tag}`;
  try {
    const res = await fetch(`${url}${path}`, {
      method: request === 'start upload' ? 'POST' : 'GET',
      headers: { authorization: cluster.authorization, accept: OCI_MANIFEST },
      signal: AbortSignal.timeout(ANSWER_BOUND_MS),
    });
    const body = await res.text();
    let code: string | undefined;
    if (res.status >= 400) {
      try {
        code = (JSON.parse(body) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code;
      } catch {
        code = `(not JSON: ${body.slice(0, 100)})`;
      }
    }
    return {
      target,
      request,
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      ...(code !== undefined && { code }),
      ms: Date.now() - t,
    };
  } catch (err) {
    return { target, request, ms: Date.now() - t, error: String(err) };
  }
}

describe('PostgreSQL restart under load', () => {
  test('503 with Retry-After while it is down, no hang, recovery by itself, fsck clean', async () => {
    const pids = cluster.instances.map((i) => i.handle.pid());
    const load = startLoad({
      client: () => cluster.client(),
      repositoryPrefix: 'test/ha-pg/load',
      pushers: 2,
      pullers: 2,
      maxDurationMs: 180_000,
      opTimeoutMs: 30_000,
      label: 'pg',
    });
    const probes: Probe[] = [];
    let recoveredAt = 0;
    try {
      await load.ready;
      // Some load on the healthy cluster first.
      await operationsFinished(load, 3);

      const outageStart = Date.now();
      await cluster.postgres.stopServer();
      const targets = [
        { target: 'nginx', url: cluster.url },
        ...cluster.instances.map((i) => ({ target: i.name, url: i.url })),
      ];
      while (Date.now() - outageStart < OUTAGE_MS) {
        const round = await Promise.all(
          targets.flatMap(({ target, url }) => [
            probe(target, url, 'start upload'),
            probe(target, url, 'get manifest'),
          ]),
        );
        probes.push(...round);
        await new Promise((r) => setTimeout(r, 250));
      }
      const healthDuring = await componentStatus(cluster.instances[0]?.url ?? '', 'database');

      await cluster.postgres.startServer();
      const restartedAt = Date.now();
      // Recovery by itself: a push and a pull succeed through the load balancer and on each instance.
      for (const [i, client] of [cluster.client(), ...cluster.instances.map((x) => x.client)].entries()) {
        await eventually(
          `push and pull #${i} after PostgreSQL is back`,
          async () => {
            const ref = await pushSmallImage(client, 'test/ha-pg/after', `c${i}`, { layerBytes: 1024 });
            await pullAndVerify(client, ref);
            return true;
          },
          (ok) => ok,
          60_000,
          500,
        );
      }
      recoveredAt = Date.now();
      console.log(
        `database down for ${restartedAt - outageStart} ms (health said "${healthDuring}"); ` +
          `push and pull everywhere ${recoveredAt - restartedAt} ms after it was back`,
      );
      // More load on the recovered cluster: operations started after the recovery, to check below.
      await operationsFinished(load, 3, recoveredAt);
    } finally {
      const stats = await load.stop();
      console.log(summarize('load across the PostgreSQL restart', stats));
      // If the steps above threw, their error is the one to see: asserting here would hide it.
      if (recoveredAt > 0) {
        const afterRecovery = stats.records.filter((r) => r.at >= recoveredAt);
        console.log(`  ${afterRecovery.length} operations started after the recovery, all must succeed`);
        expect(afterRecovery.filter((r) => !r.ok)).toEqual([]);
        expect(afterRecovery.length).toBeGreaterThan(0);
        // While the database is down operations fail; they must fail with a 503 answer, not a hang
        // or another error.
        const otherFailures = stats.failures.filter((f) => !/got 503\b/.test(f.error ?? ''));
        for (const line of cluster.explain(otherFailures.map((f) => f.error ?? ''))) {
          console.log(`  server log: ${line.slice(0, 3_000)}`);
        }
        expect(otherFailures, JSON.stringify(otherFailures.slice(0, 5))).toEqual([]);
      }
    }

    // Every probe during the outage was answered, within the bound, with 503 + Retry-After for a
    // write and 200 or 503 + Retry-After for a read.
    const statusCounts = new Map<string, number>();
    for (const p of probes) {
      const key = `${p.request} ${p.status ?? 'no answer'}${p.code ? ` ${p.code}` : ''}`;
      statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
    }
    console.log(
      `probes while the database was down: ${JSON.stringify(Object.fromEntries(statusCounts))}, ` +
        `slowest ${Math.max(...probes.map((p) => p.ms))} ms`,
    );
    const unanswered = probes.filter((p) => p.error !== undefined);
    expect(unanswered, JSON.stringify(unanswered.slice(0, 5))).toEqual([]);
    const wrong = probes.filter((p) =>
      p.request === 'start upload'
        ? !(p.status === 503 && p.code === 'UNAVAILABLE' && p.retryAfter)
        : !(p.status === 200 || (p.status === 503 && p.code === 'UNAVAILABLE' && p.retryAfter)),
    );
    expect(wrong, JSON.stringify(wrong.slice(0, 5))).toEqual([]);
    expect(probes.length).toBeGreaterThan(0);

    // Nothing was restarted: the same processes serve, none exited.
    expect(cluster.instances.map((i) => i.handle.pid())).toEqual(pids);
    for (const instance of cluster.instances) {
      expect(instance.handle.exitStatus(), instance.name).toBeUndefined();
      expect(await componentStatus(instance.url, 'database'), instance.name).toBe('healthy');
    }

    const report = await cluster.fsck();
    console.log(report.stdout.trim());
    expect(report.code, `${report.stdout}\n${report.stderr}`).toBe(0);
    expect(report.stdout).toMatch(/0 problem\(s\), 0 unrepaired — the store is clean/);
  });
});
