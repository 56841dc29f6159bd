import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerRegistry, type DockerRegistryHandle } from '../helpers/docker-registry.js';
import { imageManifest, OCI_MANIFEST, type OciClient } from '../helpers/oci-client.js';
import {
  arrives,
  digestAt,
  executionsOf,
  ociOf,
  pushLargeImage,
  settled,
  tasksOf,
  type Api,
} from '../helpers/replication-cluster.js';
import {
  adminApi,
  dockerRegistryEndpoint,
  finished,
  pushToDistribution,
  wharfEndpoint,
} from '../helpers/replication.js';
import { replicationIdle } from '../helpers/replication-idle.js';
import { closeAll, startInProcessWharfs } from '../helpers/in-process-cluster.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { adminAuth, createProject } from '../helpers/server.js';
import { waitFor } from '../helpers/poll.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

/** A project's visibility and owner (0: no user) as the API shows them; null when there is none. */
async function projectAt(
  handle: InProcessWharf,
  name: string,
): Promise<{ public: unknown; owner: unknown } | null> {
  const res = await fetch(`${handle.url}/api/v2.0/projects/${name}`, {
    headers: { authorization: adminAuth(handle), 'x-is-resource-name': 'true' },
  });
  if (res.status === 404) return null;
  expect(res.status).toBe(200);
  const body = (await res.json()) as { metadata?: { public?: unknown }; owner_id?: unknown };
  return { public: body.metadata?.public, owner: body.owner_id };
}

// Replication topologies: four Wharf instances built in the test process (each its own database,
// storage and loopback port) and Debian's docker-registry (a process). Fan-out from one source to three destinations, a chain
// of three (HQ -> branch 1 -> branch 2) with event-based triggers on every hop and no loop, pull
// from docker-registry under name and tag filters, the bandwidth limit (bytes held back), and a
// scheduled trigger firing every three seconds. Policies use disjoint repository filters, so the
// tests do not see each other's work.

describe('replication topologies', () => {
  let src: InProcessWharf; // the fan-out source, the chain's HQ, the pull and schedule side
  let d1: InProcessWharf; // fan-out destination, the chain's branch 1
  let d2: InProcessWharf; // fan-out destination, the chain's branch 2
  let d3: InProcessWharf; // fan-out destination, bandwidth and schedule destination
  let dr: DockerRegistryHandle;
  let api: Api;
  let oci: OciClient;
  const peers = new Map<InProcessWharf, number>(); // destination -> registry id on src

  beforeAll(async () => {
    const [wharfs, registry] = await Promise.all([
      startInProcessWharfs(4, {}, 'topology'),
      startDockerRegistry(),
    ]);
    [src, d1, d2, d3] = wharfs as [InProcessWharf, InProcessWharf, InProcessWharf, InProcessWharf];
    dr = registry;
    api = adminApi(src);
    oci = ociOf(src);
    for (const [i, d] of [d1, d2, d3].entries()) {
      peers.set(d, await api.create('/registries', wharfEndpoint(`dest-${i + 1}`, d)));
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([closeAll([src, d1, d2, d3]), dr?.stop()]);
  }, 60_000);

  it('fans out: one push reaches three destinations with identical digests', async () => {
    const policies: number[] = [];
    for (const [i, d] of [d1, d2, d3].entries()) {
      policies.push(
        await api.create('/replication/policies', {
          name: `fan-out-${i + 1}`,
          dest_registry: { id: peers.get(d) },
          filters: [{ type: 'name', value: 'test/fan-**' }],
          trigger: { type: 'event_based' },
        }),
      );
    }
    const image = await oci.pushImage('test/fan-app', 'v1', { layers: 2 });
    const pushedAt = Date.now();
    const latencies = await Promise.all(
      [d1, d2, d3].map(async (d) => {
        await arrives(d, 'test/fan-app', 'v1', image.digest);
        return Date.now() - pushedAt;
      }),
    );
    for (const [i, ms] of latencies.entries()) {
      console.log(`fan-out: test/fan-app:v1 reached destination ${i + 1} ${ms} ms after the push returned`);
    }
    const digests = await Promise.all([d1, d2, d3].map((d) => digestAt(d, 'test/fan-app', 'v1')));
    expect(digests).toEqual([image.digest, image.digest, image.digest]);
    // One event, one copy per destination.
    for (const policy of policies) {
      await settled(api, policy);
      const tasks = (await tasksOf(api, policy)).filter((t) => t.operation === 'copy');
      expect(tasks.map((t) => [t.dst_resource, t.status])).toEqual([['test/fan-app:v1', 'Succeed']]);
    }
  }, 90_000);

  it('a chain HQ -> branch 1 -> branch 2 of event-based hops carries a push to branch 2, without a loop', async () => {
    const hq = src;
    const hqApi = api;
    const b1Api = adminApi(d1);
    const hop1 = await hqApi.create('/replication/policies', {
      name: 'chain-hq-b1',
      dest_registry: { id: peers.get(d1) },
      filters: [{ type: 'name', value: 'ops/chain-**' }],
      trigger: { type: 'event_based' },
    });
    const b2OnB1 = await b1Api.create('/registries', wharfEndpoint('branch-2', d2));
    const hop2 = await b1Api.create('/replication/policies', {
      name: 'chain-b1-b2',
      dest_registry: { id: b2OnB1 },
      filters: [{ type: 'name', value: 'ops/chain-**' }],
      trigger: { type: 'event_based' },
    });
    const image = await ociOf(hq).pushImage('ops/chain-app', 'v1');
    const pushedAt = Date.now();
    await arrives(d1, 'ops/chain-app', 'v1', image.digest);
    const atB1 = Date.now() - pushedAt;
    await arrives(d2, 'ops/chain-app', 'v1', image.digest, 60_000);
    console.log(
      `chain: ops/chain-app:v1 reached branch 1 after ${atB1} ms, branch 2 after ${Date.now() - pushedAt} ms`,
    );
    // No loop: once no instance has replication work left (no event undispatched, no job waiting
    // or running), every hop has done its one copy and nothing more; an echo would keep work going.
    await replicationIdle([hq, d1, d2]);
    for (const [who, hopApi, hop] of [
      ['HQ -> branch 1', hqApi, hop1],
      ['branch 1 -> branch 2', b1Api, hop2],
    ] as const) {
      const executions = await settled(hopApi, hop);
      const copies = (await tasksOf(hopApi, hop)).filter((t) => t.operation === 'copy');
      expect(
        copies.map((t) => [t.dst_resource, t.status]),
        who,
      ).toEqual([['ops/chain-app:v1', 'Succeed']]);
      expect(executions.length, who).toBeLessThanOrEqual(2);
    }
    expect(await digestAt(hq, 'ops/chain-app', 'v1')).toBe(image.digest);
    // Branch 2 has no policy: nothing was sent back up the chain.
    expect((await adminApi(d2).json<unknown[]>('GET', '/replication/policies')).length).toBe(0);
  }, 120_000);

  it('pulls from docker-registry only the repositories and tags the filters select', async () => {
    const pushed = {
      keep1v1: await pushToDistribution(dr.url, 'test/keep-1', 'v1'),
      keep1v2: await pushToDistribution(dr.url, 'test/keep-1', 'v2.0'),
      keep2v1: await pushToDistribution(dr.url, 'test/keep-2', 'v1'),
    };
    await pushToDistribution(dr.url, 'test/keep-1', 'dev'); // the tag filter leaves it out
    await pushToDistribution(dr.url, 'test/keep-2', 'v1-rc'); // the excluding tag filter leaves it out
    await pushToDistribution(dr.url, 'test/drop', 'v1'); // the name filter leaves it out
    const drId = await api.create('/registries', dockerRegistryEndpoint('pull-dr', dr));
    const policy = await api.create('/replication/policies', {
      name: 'pull-filtered',
      src_registry: { id: drId },
      filters: [
        { type: 'name', value: 'test/keep-*' },
        { type: 'tag', value: 'v*' },
        { type: 'tag', value: '*-rc', decoration: 'excludes' },
      ],
    });
    const done = await finished(api, await api.create('/replication/executions', { policy_id: policy }));
    expect(done).toMatchObject({ status: 'Succeed', total: 3, succeed: 3 });
    expect(await digestAt(src, 'test/keep-1', 'v1')).toBe(pushed.keep1v1);
    expect(await digestAt(src, 'test/keep-1', 'v2.0')).toBe(pushed.keep1v2);
    expect(await digestAt(src, 'test/keep-2', 'v1')).toBe(pushed.keep2v1);
    expect(await digestAt(src, 'test/keep-1', 'dev')).toBeNull();
    expect(await digestAt(src, 'test/keep-2', 'v1-rc')).toBeNull();
    expect(await digestAt(src, 'test/drop', 'v1')).toBeNull();
    const again = await finished(api, await api.create('/replication/executions', { policy_id: policy }));
    expect(again).toMatchObject({ status: 'Succeed', total: 0 });
  }, 90_000);

  it('creates missing destination projects with the visibility of the source project', async () => {
    // Push: a public project that exists only at the source.
    await createProject(src, 'shipyard', { public: true });
    const policy = await api.create('/replication/policies', {
      name: 'new-project',
      dest_registry: { id: peers.get(d1) },
      filters: [{ type: 'name', value: 'shipyard/**' }],
      trigger: { type: 'event_based' },
    });
    expect(await projectAt(d1, 'shipyard')).toBeNull();
    const image = await oci.pushImage('shipyard/app', 'v1');
    await arrives(d1, 'shipyard/app', 'v1', image.digest);
    // Made through the peer's API, by the endpoint's user (its admin here).
    expect(await projectAt(d1, 'shipyard')).toEqual({ public: 'true', owner: 1 });
    await settled(api, policy);

    // Pull: from docker-registry into a project this registry does not have (private: the peer
    // has no projects to tell a visibility).
    const digest = await pushToDistribution(dr.url, 'tools/cli', 'v1');
    const drId = await api.create('/registries', dockerRegistryEndpoint('dr-projects', dr));
    const pull = await api.create('/replication/policies', {
      name: 'pull-new-project',
      src_registry: { id: drId },
      dest_namespace: 'harbour',
      filters: [{ type: 'name', value: 'tools/cli' }],
    });
    const done = await finished(api, await api.create('/replication/executions', { policy_id: pull }));
    expect(done).toMatchObject({ status: 'Succeed', total: 1, succeed: 1 });
    expect(await projectAt(src, 'harbour')).toEqual({ public: 'false', owner: 0 });
    expect(await digestAt(src, 'harbour/cli', 'v1')).toBe(digest);
  }, 90_000);

  it('mounts a layer the destination holds in another replicated repository instead of sending it', async () => {
    const policy = await api.create('/replication/policies', {
      name: 'mounts',
      dest_registry: { id: peers.get(d2) },
      filters: [{ type: 'name', value: 'test/mnt-*' }],
      trigger: { type: 'event_based' },
    });
    const shared = randomBytes(1024 * 1024);
    const first = await pushLargeImage(oci, 'test/mnt-a', 'v1', shared.length, shared);
    await arrives(d2, 'test/mnt-a', 'v1', first.digest);
    await settled(api, policy);
    const second = await pushLargeImage(oci, 'test/mnt-b', 'v1', shared.length, shared);
    await arrives(d2, 'test/mnt-b', 'v1', second.digest);
    await settled(api, policy);
    const logs: string[] = [];
    for (const e of await executionsOf(api, policy)) {
      for (const t of await api.tasks(e.id)) {
        const res = await api.call('GET', `/replication/executions/${e.id}/tasks/${t.id}/log`);
        logs.push(`${t.dst_resource}\n${await res.text()}`);
      }
    }
    const secondLog = logs.find((l) => l.startsWith('test/mnt-b:v1')) ?? '';
    expect(secondLog).toMatch(/mounted from test\/mnt-a/);
    // The config differs (a nonce), so one blob is still sent: the small config, not the layer.
    expect(secondLog).not.toMatch(new RegExp(`copied \\(${shared.length} bytes\\)`));
  }, 90_000);

  it('label and resource filters select artifacts, read here (push) and from a Wharf peer (pull)', async () => {
    const label = await api.create('/labels', { name: 'release', scope: 'g' });
    const v1 = await oci.pushImage('test/lbl-app', 'v1');
    const v2 = await oci.pushImage('test/lbl-app', 'v2');
    const chartConfig = Buffer.from('{"name":"demo","version":"0.1.0","apiVersion":"v2"}');
    const chart = await oci.putManifest(
      'test/lbl-app',
      'chart-0.1.0',
      imageManifest({
        config: {
          mediaType: 'application/vnd.cncf.helm.config.v1+json',
          digest: await oci.pushBlob('test/lbl-app', chartConfig),
          size: chartConfig.length,
        },
        layers: [],
      }),
      OCI_MANIFEST,
    );
    const attach = await api.call('POST', '/projects/test/repositories/lbl-app/artifacts/v1/labels', {
      id: label,
    });
    expect(attach.status).toBe(200);
    const run = async (on: Api, body: Record<string, unknown>) => {
      const policy = await on.create('/replication/policies', body);
      return finished(on, await on.create('/replication/executions', { policy_id: policy }));
    };

    // Push, filtered here: only the labelled image, then only the chart.
    const byLabel = await run(api, {
      name: 'push-labelled',
      dest_registry: { id: peers.get(d1) },
      filters: [
        { type: 'name', value: 'test/lbl-app' },
        { type: 'label', value: ['release'] },
      ],
    });
    expect(byLabel).toMatchObject({ status: 'Succeed', total: 1 });
    expect(await digestAt(d1, 'test/lbl-app', 'v1')).toBe(v1.digest);
    expect(await digestAt(d1, 'test/lbl-app', 'v2')).toBeNull();
    const charts = await run(api, {
      name: 'push-charts',
      dest_registry: { id: peers.get(d1) },
      replicate_deletion: true,
      filters: [
        { type: 'name', value: 'test/lbl-app' },
        { type: 'resource', value: 'chart' },
      ],
    });
    expect(charts).toMatchObject({ status: 'Succeed', total: 1 });
    expect(await digestAt(d1, 'test/lbl-app', 'chart-0.1.0')).toBe(chart);
    // With replicate_deletion on, the chart run did not delete what the label run copied: a tag
    // the filters leave out is left alone at the destination.
    expect(await digestAt(d1, 'test/lbl-app', 'v1')).toBe(v1.digest);

    // Pull from the Wharf peer, filtered by what its artifact API says: everything but the label.
    const d3Api = adminApi(d3);
    const fromSrc = await d3Api.create('/registries', wharfEndpoint('src', src));
    const pulled = await run(d3Api, {
      name: 'pull-unlabelled',
      src_registry: { id: fromSrc },
      filters: [
        { type: 'name', value: 'test/lbl-app' },
        { type: 'label', value: ['release'], decoration: 'excludes' },
        { type: 'resource', value: 'image' },
      ],
    });
    expect(pulled).toMatchObject({ status: 'Succeed', total: 1 });
    expect(await digestAt(d3, 'test/lbl-app', 'v2')).toBe(v2.digest);
    expect(await digestAt(d3, 'test/lbl-app', 'v1')).toBeNull();
    expect(await digestAt(d3, 'test/lbl-app', 'chart-0.1.0')).toBeNull();
  }, 90_000);

  it("holds a copy to the policy's speed: at 1 KB/s the layer is still held back when stopped", async () => {
    const image = await pushLargeImage(oci, 'test/speed', 'v1', 1024 * 1024);
    // The destination reached through a proxy that counts the bytes of uploads going through.
    const counted = await startTcpProxy(d3.port, {});
    try {
      const viaProxy = await api.create('/registries', {
        ...wharfEndpoint('dest-3-counted', d3),
        url: counted.url,
      });
      const policy = await api.create('/replication/policies', {
        name: 'speed',
        dest_registry: { id: viaProxy },
        filters: [{ type: 'name', value: 'test/speed' }],
        speed: 1, // KB/s, 1 KB = 1024 bytes
      });
      const id = await api.create('/replication/executions', { policy_id: policy });
      // At 1 KB/s a read of the layer (up to 64 KiB) waits about a minute for its share before
      // it goes: while the task runs, at most the small config has gone up. Without the limit the
      // 1 MiB would be up (and the tag set) in a moment.
      await waitFor(
        'the copy task to run',
        async () => (await api.tasks(id)).some((t) => t.status === 'InProgress'),
        60_000,
        20,
      );
      expect((await api.call('PUT', `/replication/executions/${id}`, { action: 'stop' })).status).toBe(200);
      expect(await finished(api, id)).toMatchObject({ status: 'Stopped' });
      console.log(`bandwidth: ${counted.patchBytes()} bytes sent when stopped (layer ${image.layerSize})`);
      expect(counted.patchBytes()).toBeLessThan(1024);
      expect(await digestAt(d3, 'test/speed', 'v1')).toBeNull();
    } finally {
      await counted.close();
    }
  }, 90_000);

  it('a scheduled trigger every 3 s copies a newly pushed image with no event trigger', async () => {
    const policy = await api.create('/replication/policies', {
      name: 'every-3s',
      dest_registry: { id: peers.get(d3) },
      filters: [{ type: 'name', value: 'test/sched-**' }],
      trigger: { type: 'scheduled', trigger_settings: { cron: '*/3 * * * * *' } },
    });
    try {
      const image = await oci.pushImage('test/sched-app', 'v1');
      const waited = await arrives(d3, 'test/sched-app', 'v1', image.digest, 30_000, 200);
      console.log(`scheduled: test/sched-app:v1 arrived ${waited} ms after the push`);
      const executions = await executionsOf(api, policy);
      expect(executions.length).toBeGreaterThan(0);
      expect(executions.every((e) => e.trigger === 'scheduled')).toBe(true);
      // The tag is visible at d3 a moment before the source records its task as done.
      const copies = await waitFor(
        'the copy task to end',
        async () => {
          const found = (await tasksOf(api, policy)).filter((t) => t.operation === 'copy');
          return found.some((t) => t.status === 'Pending' || t.status === 'InProgress') ? undefined : found;
        },
        30_000,
        200,
      );
      expect(copies.map((t) => [t.dst_resource, t.status])).toEqual([['test/sched-app:v1', 'Succeed']]);
    } finally {
      // Stop the schedule so it does not keep firing for the rest of the file.
      await api.call('PUT', `/replication/policies/${policy}`, { enabled: false });
    }
  }, 60_000);
});
