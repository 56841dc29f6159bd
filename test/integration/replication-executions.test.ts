import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, basicAuth } from '../helpers/api-client.js';
import { startDockerRegistry, type DockerRegistryHandle } from '../helpers/docker-registry.js';
import { OciClient } from '../helpers/oci-client.js';
import {
  adminApi,
  dockerRegistryEndpoint,
  finished,
  headDigest,
  planningRetried,
  pushToDistribution,
  wharfEndpoint,
} from '../helpers/replication.js';
import { replicationIdle } from '../helpers/replication-idle.js';
import { closeAll, startInProcessWharfs } from '../helpers/in-process-cluster.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { adminAuth } from '../helpers/server.js';
import { waitFor } from '../helpers/poll.js';

// Replication executions between two Wharf instances built in the test process (each its own
// database, storage and loopback port) and Debian's docker-registry (a process). Manual
// push runs honour the filters and show their tasks; a second run copies nothing; event-based
// replication reaches the peer (latency printed) and propagates a tag deletion; an outage of the
// destination converges with no manual step; pull from docker-registry; stop; permissions and
// bad input.

describe('replication executions', () => {
  let a: InProcessWharf; // the source of push policies
  let b: InProcessWharf; // their destination
  let dr: DockerRegistryHandle;
  let apiA: ReturnType<typeof adminApi>;
  let ociA: OciClient;
  let peerB: number;
  let peerDr: number;
  const atB = (repository: string, tag: string) => headDigest(b.url, adminAuth(b), repository, tag);

  beforeAll(async () => {
    const [wharfs, registry] = await Promise.all([
      startInProcessWharfs(2, {}, 'executions'),
      startDockerRegistry(),
    ]);
    [a, b] = wharfs as [InProcessWharf, InProcessWharf];
    dr = registry;
    apiA = adminApi(a);
    ociA = new OciClient(a.url, adminAuth(a));
    peerB = await apiA.create('/registries', wharfEndpoint('wharf-b', b));
    peerDr = await apiA.create('/registries', dockerRegistryEndpoint('dr', dr));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([closeAll([a, b]), dr?.stop()]);
  }, 60_000);

  it('a manual push run copies what the filters select, and a second run copies nothing', async () => {
    const pushed = {
      'test/app-a:v1': await ociA.pushImage('test/app-a', 'v1'),
      'test/app-a:v2': await ociA.pushImage('test/app-a', 'v2'),
      'test/app-b:v1': await ociA.pushImage('test/app-b', 'v1'),
    };
    await ociA.pushImage('test/app-a', 'dev'); // the tag filter leaves it out
    await ociA.pushImage('test/other', 'v1'); // the name filter leaves it out
    const policy = await apiA.create('/replication/policies', {
      name: 'manual-push',
      dest_registry: { id: peerB },
      filters: [
        { type: 'name', value: 'test/app-*' },
        { type: 'tag', value: 'v*' },
      ],
    });
    const started = await apiA.call('POST', '/replication/executions', { policy_id: policy });
    expect(started.status).toBe(201);
    expect(started.headers.get('location')).toMatch(/^\/api\/v2\.0\/replication\/executions\/\d+$/);
    const id = Number(started.headers.get('location')?.split('/').pop());
    const done = await finished(apiA, id);
    expect(done).toMatchObject({
      policy_id: policy,
      status: 'Succeed',
      trigger: 'manual',
      total: 3,
      succeed: 3,
    });
    const tasks = await apiA.tasks(id);
    expect(tasks.map((t) => [t.dst_resource, t.operation, t.status]).sort()).toEqual([
      ['test/app-a:v1', 'copy', 'Succeed'],
      ['test/app-a:v2', 'copy', 'Succeed'],
      ['test/app-b:v1', 'copy', 'Succeed'],
    ]);
    for (const [resource, image] of Object.entries(pushed)) {
      const [repository, tag] = resource.split(':') as [string, string];
      expect(await atB(repository, tag)).toBe(image.digest);
    }
    expect(await atB('test/app-a', 'dev')).toBeNull();
    expect(await atB('test/other', 'v1')).toBeNull();
    // The job's "succeeded" line follows the task's status by a moment: read until it is there.
    const logPath = `/replication/executions/${id}/tasks/${tasks[0]?.id}/log`;
    const log = await waitFor(
      'the task log to say succeeded',
      async () => {
        const res = await apiA.call('GET', logPath);
        const text = await res.text();
        return /succeeded/.test(text) ? { res, text } : undefined;
      },
      30_000,
      200,
    );
    expect(log.res.status).toBe(200);
    expect(log.res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(log.text).toMatch(/succeeded/);

    const again = await finished(apiA, await apiA.create('/replication/executions', { policy_id: policy }));
    expect(again).toMatchObject({ status: 'Succeed', total: 0 });
    const listed = await apiA.call(
      'GET',
      `/replication/executions?policy_id=${policy}&status=Succeed&page_size=1`,
    );
    expect(listed.headers.get('x-total-count')).toBe('2');
    expect(((await listed.json()) as unknown[]).length).toBe(1);
  }, 90_000);

  it('event-based push replication reaches the peer after a push, and propagates a tag deletion', async () => {
    await apiA.create('/replication/policies', {
      name: 'events',
      dest_registry: { id: peerB },
      filters: [{ type: 'name', value: 'ops/evt-**' }],
      trigger: { type: 'event_based' },
      replicate_deletion: true,
    });
    const began = Date.now();
    const image = await ociA.pushImage('ops/evt-1', 'v1');
    const pushedAt = Date.now();
    await waitFor('ops/evt-1:v1 at the peer', async () =>
      (await atB('ops/evt-1', 'v1')) === image.digest ? true : undefined,
    );
    console.log(
      `event-based replication latency: ${Date.now() - pushedAt} ms after the push returned (${Date.now() - began} ms including the push)`,
    );
    const del = await fetch(`${a.url}/v2/ops/evt-1/manifests/v1`, {
      method: 'DELETE',
      headers: { authorization: adminAuth(a) },
    });
    expect(del.status).toBe(202);
    await waitFor('the deletion of ops/evt-1:v1 at the peer', async () =>
      (await atB('ops/evt-1', 'v1')) === null ? true : undefined,
    );
  }, 60_000);

  it('after an outage of the destination, every image pushed meanwhile arrives with no manual step', async () => {
    const policy = await apiA.create('/replication/policies', {
      name: 'outage',
      dest_registry: { id: peerB },
      filters: [{ type: 'name', value: 'ops/out-*' }],
      trigger: { type: 'event_based' },
    });
    await b.stop(); // its port refuses connections until restart()
    const images = [];
    for (let i = 1; i <= 5; i++) images.push(await ociA.pushImage(`ops/out-${i}`, 'v1'));
    // Each push has become its event run, and each run has met the dead peer and backs off.
    await replicationIdle([a], 60_000, ['replication-event']);
    await planningRetried(apiA, policy, images.length);
    await b.restart();
    const downFor = Date.now();
    for (const [i, image] of images.entries()) {
      await waitFor(
        `ops/out-${i + 1}:v1 at the peer`,
        async () => ((await atB(`ops/out-${i + 1}`, 'v1')) === image.digest ? true : undefined),
        90_000,
        250,
      );
    }
    console.log(`after the outage, all 5 images arrived ${Date.now() - downFor} ms after the peer restarted`);
    const again = await finished(apiA, await apiA.create('/replication/executions', { policy_id: policy }));
    expect(again).toMatchObject({ status: 'Succeed', total: 0 });
  }, 150_000);

  it('pulls from docker-registry', async () => {
    const digest = await pushToDistribution(dr.url, 'test/pulled', 'v1');
    const policy = await apiA.create('/replication/policies', {
      name: 'pull',
      src_registry: { id: peerDr },
      filters: [{ type: 'name', value: 'test/pulled' }],
    });
    const done = await finished(apiA, await apiA.create('/replication/executions', { policy_id: policy }));
    expect(done).toMatchObject({ status: 'Succeed', total: 1, succeed: 1 });
    expect(await headDigest(a.url, adminAuth(a), 'test/pulled', 'v1')).toBe(digest);
  }, 60_000);

  it('stops an execution: its running task is interrupted', async () => {
    await ociA.pushImage('test/slow', 'v1', { layers: 3 });
    const policy = await apiA.create('/replication/policies', {
      name: 'slow',
      dest_registry: { id: peerB },
      filters: [{ type: 'name', value: 'test/slow' }],
      speed: 1, // KB/s: the copy takes long enough to be stopped
    });
    const id = await apiA.create('/replication/executions', { policy_id: policy });
    await waitFor('a running task', async () =>
      (await apiA.tasks(id)).some((t) => t.status === 'InProgress') ? true : undefined,
    );
    expect((await apiA.call('PUT', `/replication/executions/${id}`, { action: 'stop' })).status).toBe(200);
    const stopped = await apiA.execution(id);
    expect(stopped.status).toBe('Stopped');
    expect((await apiA.tasks(id)).map((t) => t.status)).toEqual(['Stopped']);
    expect(await atB('test/slow', 'v1')).toBeNull();
  }, 60_000);

  it('is for system administrators only, and refuses bad input', async () => {
    const call = apiCaller(() => a.url);
    expect((await call('GET', '/replication/executions', undefined)).status).toBe(401);
    expect(
      (await call('POST', '/users', adminAuth(a), { username: 'exec-user', password: 'Exec-User-Passw0rd' }))
        .status,
    ).toBe(201);
    const user = basicAuth('exec-user', 'Exec-User-Passw0rd');
    expect((await call('GET', '/replication/executions', user)).status).toBe(403);
    expect((await call('POST', '/replication/executions', user, { policy_id: 1 })).status).toBe(403);
    expect((await apiA.call('GET', '/replication/executions/999999')).status).toBe(404);
    expect((await apiA.call('GET', '/replication/executions/abc')).status).toBe(404);
    expect((await apiA.call('GET', '/replication/executions/999999/tasks')).status).toBe(404);
    expect((await apiA.call('PUT', '/replication/executions/999999', {})).status).toBe(404);
    expect((await apiA.call('POST', '/replication/executions', { policy_id: 'x' })).status).toBe(400);
    expect((await apiA.call('POST', '/replication/executions', {})).status).toBe(400);
    expect((await apiA.call('POST', '/replication/executions', { policy_id: 999999 })).status).toBe(404);
    expect((await apiA.call('GET', '/replication/executions?status=Nope')).status).toBe(400);
  }, 30_000);
});
