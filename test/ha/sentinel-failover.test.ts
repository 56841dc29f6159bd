import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { componentStatus, startCluster, type Cluster, type ClusterInstance } from '../helpers/cluster.js';
import {
  operationsFinished,
  pushSmallImage,
  startLoad,
  summarize,
  type PushedRef,
} from '../helpers/load-generator.js';
import { OCI_MANIFEST } from '../helpers/oci-client.js';
import { eventually } from '../helpers/poll.js';

// Wharf on Redis Sentinel (one master, one replica, three sentinels, quorum 2). Under push and
// pull load through nginx, the master is killed (SIGKILL) and the sentinels promote the replica.
// No request may hang (a probe reads a manifest from every instance, each request bounded) and
// no client operation may fail; afterwards every instance follows the new master and its cache is
// live again (lookup hits grow).

let cluster: Cluster;
let seed: PushedRef;
const PROBE_BOUND_MS = 10_000;
const LOOKUPS = 'wharf_lookup_cache_total';

beforeAll(async () => {
  cluster = await startCluster({ instances: 3, redis: 'sentinel', loadBalancer: 'nginx' });
  seed = await pushSmallImage(cluster.client(), 'test/ha-sentinel/seed', 'v1', { layerBytes: 4096 });
});

afterAll(async () => {
  await cluster?.stop();
});

async function readSeed(instance: ClusterInstance): Promise<void> {
  const res = await fetch(`${instance.url}/v2/${seed.repository}/manifests/${seed.tag}`, {
    headers: { accept: OCI_MANIFEST, authorization: cluster.authorization },
    signal: AbortSignal.timeout(PROBE_BOUND_MS),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${instance.name}: GET manifest ${res.status}`);
}

async function cacheHitsGrow(instance: ClusterInstance, timeoutMs: number): Promise<void> {
  await eventually(
    `${instance.name} serving lookups from its cache`,
    async () => {
      const before = await cluster.metric(instance, LOOKUPS, { outcome: 'hit' });
      await readSeed(instance);
      await readSeed(instance);
      return (await cluster.metric(instance, LOOKUPS, { outcome: 'hit' })) - before;
    },
    (grown) => grown > 0,
    timeoutMs,
  );
}

interface ProbeResult {
  requests: number;
  slowestMs: number;
  failures: string[];
}

/** Reads the seed manifest from every instance in turn, each request bounded, until stopped. */
function startProbe(): { stop(): Promise<ProbeResult> } {
  let stopped = false;
  const result: ProbeResult = { requests: 0, slowestMs: 0, failures: [] };
  const loop = (async () => {
    while (!stopped) {
      for (const instance of cluster.instances) {
        const t = Date.now();
        try {
          await readSeed(instance);
        } catch (err) {
          result.failures.push(`${instance.name} after ${Date.now() - t} ms: ${String(err)}`);
        }
        result.requests++;
        result.slowestMs = Math.max(result.slowestMs, Date.now() - t);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return result;
    },
  };
}

describe('Redis Sentinel failover under load', () => {
  test('the master is killed: no request hangs, none fails, the caches are live again after', async () => {
    const sentinel = cluster.sentinel;
    if (!sentinel) throw new Error('the cluster has no Sentinel set');
    for (const instance of cluster.instances) await cacheHitsGrow(instance, 20_000);

    const load = startLoad({
      client: () => cluster.client(),
      repositoryPrefix: 'test/ha-sentinel/load',
      pushers: 2,
      pullers: 2,
      maxDurationMs: 90_000,
      opTimeoutMs: 20_000,
      label: 'sentinel',
    });
    const probe = startProbe();
    try {
      await load.ready;
      // Some load on the healthy cluster first.
      await operationsFinished(load, 3);
      const t = Date.now();
      const { from, to } = await sentinel.failover('kill');
      console.log(`sentinels moved the master from :${from.port} to :${to.port} in ${Date.now() - t} ms`);
      // Load goes on while the instances find the new master: until each serves from its cache
      // again, and some operations started after the failover have finished.
      const failedOverAt = Date.now();
      for (const instance of cluster.instances) await cacheHitsGrow(instance, 30_000);
      await operationsFinished(load, 3, failedOverAt);
    } finally {
      const probed = await probe.stop();
      const stats = await load.stop();
      console.log(summarize('sentinel failover load', stats));
      console.log(`probe: ${probed.requests} manifest reads, slowest ${probed.slowestMs} ms`);
      expect(probed.failures, probed.failures.slice(0, 5).join('\n')).toEqual([]);
      expect(stats.failures, JSON.stringify(stats.failures.slice(0, 5))).toEqual([]);
      expect(stats.pushes.ok).toBeGreaterThan(0);
      expect(stats.pulls.ok).toBeGreaterThan(0);
    }

    for (const instance of cluster.instances) {
      await cacheHitsGrow(instance, 30_000);
      await eventually(
        `${instance.name} reporting redis healthy`,
        () => componentStatus(instance.url, 'redis'),
        (s) => s === 'healthy',
        15_000,
      );
    }
  });
});
