import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCluster, type Cluster, type ClusterInstance, componentStatus } from '../helpers/cluster.js';
import {
  operationsFinished,
  pushSmallImage,
  startLoad,
  summarize,
  type PushedRef,
} from '../helpers/load-generator.js';
import { expectStatus, OCI_MANIFEST } from '../helpers/oci-client.js';
import { eventually, waitFor } from '../helpers/poll.js';

// Redis is an accelerator. Stopped: pushes and pulls through the load balancer keep working, the
// hot-path lookup cache is bypassed (wharf_lookup_cache_total{outcome="bypass"} grows), and a tag
// overwritten through instance A reads back new through instance B at once (no stale cache).
// Started again: the caches are used again (hits grow) and still coherent across instances.

let cluster: Cluster;
let a: ClusterInstance;
let b: ClusterInstance;
const repository = 'test/ha-redis/coherence';
const images: PushedRef[] = [];
const LOOKUPS = 'wharf_lookup_cache_total';

beforeAll(async () => {
  cluster = await startCluster({ instances: 3, redis: 'plain', loadBalancer: 'nginx' });
  [a, b] = cluster.instances as [ClusterInstance, ClusterInstance];
  // Images whose manifests are put under the tag `current` in turn.
  for (let i = 0; i < 6; i++)
    images.push(await pushSmallImage(a.client, repository, `img-${i}`, { layerBytes: 1024 }));
});

afterAll(async () => {
  await cluster?.stop();
});

const lookups = (instance: ClusterInstance, outcome: 'hit' | 'miss' | 'bypass') =>
  cluster.metric(instance, LOOKUPS, { outcome });

async function currentOn(instance: ClusterInstance): Promise<string | null> {
  const res = await instance.client.request('GET', `/v2/${repository}/manifests/current`, {
    headers: { accept: OCI_MANIFEST },
  });
  await expectStatus(res, 200);
  await res.arrayBuffer();
  return res.headers.get('docker-content-digest');
}

/** Reads through `instance` until its `outcome` lookups grow: its cache is on (hit) or off (bypass). */
async function untilLookupsGrow(
  instance: ClusterInstance,
  outcome: 'hit' | 'bypass',
  what: string,
  timeoutMs: number,
): Promise<void> {
  await eventually(
    `${instance.name} ${what}`,
    async () => {
      const before = await lookups(instance, outcome);
      await currentOn(instance);
      await currentOn(instance);
      return (await lookups(instance, outcome)) - before;
    },
    (grown) => grown > 0,
    timeoutMs,
  );
}

async function overwriteOn(instance: ClusterInstance, image: PushedRef): Promise<void> {
  await instance.client.putManifest(repository, 'current', image.manifest, OCI_MANIFEST);
}

/**
 * `rounds` times: B reads the tag (twice, so that it is cached when caching is on), A overwrites
 * it, B reads it again at once and must see the new digest. Returns the stale reads.
 */
async function overwriteAndReadBack(rounds: number): Promise<string[]> {
  const stale: string[] = [];
  for (let round = 0; round < rounds; round++) {
    const before = images[round % images.length] as PushedRef;
    const after = images[(round + 1) % images.length] as PushedRef;
    await overwriteOn(a, before);
    await currentOn(b);
    expect(await currentOn(b)).toBe(before.digest);
    await overwriteOn(a, after);
    const seen = await currentOn(b);
    if (seen !== after.digest) {
      const which = seen === before.digest ? 'the tag as it was before the overwrite' : 'an unknown digest';
      stale.push(`round ${round}: B served ${seen} (${which}); A had answered 201 for ${after.digest}`);
    }
  }
  return stale;
}

/**
 * Push and pull load through the load balancer until `operations` pushes and as many pulls have
 * finished, and `until` (what the test wants the load to have caused) holds.
 */
async function loadThroughLb(label: string, operations: number, until?: () => Promise<boolean>) {
  const load = startLoad({
    client: () => cluster.client(),
    repositoryPrefix: `test/ha-redis/${label}`,
    pushers: 2,
    pullers: 2,
    maxDurationMs: 120_000,
    opTimeoutMs: 30_000,
    label,
  });
  try {
    await operationsFinished(load, operations);
    if (until) await waitFor(`load ${label} to have its effect`, until, 60_000, 200);
  } finally {
    await load.stop();
  }
  const stats = load.stats();
  console.log(summarize(`load ${label}`, stats));
  expect(stats.failures, JSON.stringify(stats.failures.slice(0, 5))).toEqual([]);
  expect(stats.pushes.ok).toBeGreaterThan(0);
  expect(stats.pulls.ok).toBeGreaterThan(0);
  return stats;
}

describe('Redis outage', () => {
  test('with Redis: caches are used and coherent across instances', async () => {
    await overwriteOn(a, images[0] as PushedRef);
    // An instance trusts its cache only once its own heartbeat came back through Redis (and not
    // while echoes are late, as on a loaded machine): wait for that first, as after the outage.
    await untilLookupsGrow(b, 'hit', 'using its cache', 30_000);
    const hits = await lookups(b, 'hit');
    for (let i = 0; i < 3; i++) expect(await currentOn(b)).toBe(images[0]?.digest);
    expect(await lookups(b, 'hit')).toBeGreaterThan(hits);
    expect(await overwriteAndReadBack(20)).toEqual([]);
  });

  test('Redis stopped: pushes and pulls keep working, the cache is bypassed, no stale reads', async () => {
    await cluster.redis?.stop();
    // Each instance notices (its subscription drops) and turns the cache off.
    for (const instance of cluster.instances) {
      await untilLookupsGrow(instance, 'bypass', 'bypassing its cache', 15_000);
    }
    const bypassBefore = await Promise.all(cluster.instances.map((i) => lookups(i, 'bypass')));
    // Until every instance has bypassed its cache for some of the load's lookups.
    const bypassGrew = async () =>
      (await Promise.all(cluster.instances.map((i) => lookups(i, 'bypass')))).every(
        (n, i) => n > (bypassBefore[i] ?? 0),
      );
    await loadThroughLb('redis-down', 6, bypassGrew);
    const bypassAfter = await Promise.all(cluster.instances.map((i) => lookups(i, 'bypass')));
    console.log(`bypass during the outage: ${JSON.stringify(bypassBefore)} → ${JSON.stringify(bypassAfter)}`);
    for (const [i, after] of bypassAfter.entries()) expect(after).toBeGreaterThan(bypassBefore[i] ?? 0);
    expect(await overwriteAndReadBack(5)).toEqual([]);
    expect(await componentStatus(a.url, 'redis')).toBe('unhealthy');
  });

  test('Redis back: caches are used again and stay coherent', async () => {
    await cluster.redis?.start();
    for (const instance of cluster.instances) {
      await untilLookupsGrow(instance, 'hit', 'using its cache again', 30_000);
    }
    expect(await componentStatus(a.url, 'redis')).toBe('healthy');
    const hitsBefore = await lookups(b, 'hit');
    expect(await overwriteAndReadBack(20)).toEqual([]);
    expect(await lookups(b, 'hit')).toBeGreaterThan(hitsBefore);
    await loadThroughLb('redis-back', 4);
  });
});
