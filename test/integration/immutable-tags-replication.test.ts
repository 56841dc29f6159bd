import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, startInProcessWharfs } from '../helpers/in-process-cluster.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { waitFor } from '../helpers/poll.js';
import { adminApi, finished, headDigest, wharfEndpoint } from '../helpers/replication.js';
import { adminAuth } from '../helpers/server.js';

// Replication cannot change an immutable tag: it writes through the same artifact core as any
// push, so a copy that would move a protected tag at the destination is refused there, and the
// task fails with a reason that names the tag, whether this registry pushes to a Wharf peer (the
// peer's /v2 refuses) or pulls from one (the local write refuses); a replicated deletion of a
// tag the peer protects fails the same way. Other tags still replicate.

describe('replication and immutable tags', () => {
  let a: InProcessWharf;
  let b: InProcessWharf;
  let apiA: ReturnType<typeof adminApi>;
  let apiB: ReturnType<typeof adminApi>;
  let ociA: OciClient;
  let ociB: OciClient;

  const protect = async (api: ReturnType<typeof adminApi>, project: string, pattern: string) => {
    await api.create(`/projects/${project}/immutabletagrules`, {
      tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern }],
      scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
    });
  };

  /** The log of the execution's failed task, once it says why. */
  const failedTaskLog = async (api: ReturnType<typeof adminApi>, executionId: number) => {
    const tasks = await api.tasks(executionId);
    const failed = tasks.filter((t) => t.status === 'Failed');
    expect(failed.length).toBe(1);
    return waitFor('the failed task log to give its reason', async () => {
      const res = await api.call('GET', `/replication/executions/${executionId}/tasks/${failed[0]?.id}/log`);
      const text = await res.text();
      return /failed/.test(text) ? text : undefined;
    });
  };

  beforeAll(async () => {
    [a, b] = (await startInProcessWharfs(2, {}, 'immutable')) as [InProcessWharf, InProcessWharf];
    apiA = adminApi(a);
    apiB = adminApi(b);
    ociA = new OciClient(a.url, adminAuth(a));
    ociB = new OciClient(b.url, adminAuth(b));
  }, 120_000);

  afterAll(async () => {
    await closeAll([a, b]);
  }, 60_000);

  it('a push run fails the task that would move a protected tag at the peer, naming it', async () => {
    await protect(apiB, 'test', 'v*');
    // The peer's own v1 first; the source's v1 is the later push, which replication would apply.
    const held = await ociB.pushImage('test/pushed', 'v1');
    await ociA.pushImage('test/pushed', 'v1');
    const fresh = await ociA.pushImage('test/pushed', 'v2');
    const peer = await apiA.create('/registries', wharfEndpoint('peer-b', b));
    const policy = await apiA.create('/replication/policies', {
      name: 'push-to-b',
      dest_registry: { id: peer },
      filters: [{ type: 'name', value: 'test/pushed' }],
    });
    const run = await finished(apiA, await apiA.create('/replication/executions', { policy_id: policy }));
    expect(run).toMatchObject({ status: 'Failed', total: 2, failed: 1, succeed: 1 });
    const log = await failedTaskLog(apiA, run.id);
    expect(log).toMatch(/412/);
    expect(log).toMatch(/tag v1 in test\/pushed is immutable/);
    expect(await headDigest(b.url, adminAuth(b), 'test/pushed', 'v1')).toBe(held.digest);
    expect(await headDigest(b.url, adminAuth(b), 'test/pushed', 'v2')).toBe(fresh.digest);
  }, 90_000);

  it('a deletion replicated to the peer fails its task when the peer protects the tag', async () => {
    const image = await ociA.pushImage('test/removed', 'rc-1');
    const peer = await apiA.create('/registries', wharfEndpoint('peer-b-deletions', b));
    const policy = await apiA.create('/replication/policies', {
      name: 'deletions-to-b',
      dest_registry: { id: peer },
      filters: [{ type: 'name', value: 'test/removed' }],
      replicate_deletion: true,
    });
    const copied = await finished(apiA, await apiA.create('/replication/executions', { policy_id: policy }));
    expect(copied).toMatchObject({ status: 'Succeed', succeed: 1 });
    await protect(apiB, 'test', 'rc-*');
    expect((await ociA.request('DELETE', '/v2/test/removed/manifests/rc-1')).status).toBe(202);
    const run = await finished(apiA, await apiA.create('/replication/executions', { policy_id: policy }));
    expect(run).toMatchObject({ status: 'Failed', failed: 1 });
    expect(await failedTaskLog(apiA, run.id)).toMatch(
      /tag rc-1 in test\/removed is immutable.*cannot be deleted/,
    );
    expect(await headDigest(b.url, adminAuth(b), 'test/removed', 'rc-1')).toBe(image.digest);
  }, 90_000);

  it('a pull run fails the task whose local write would move a protected tag, naming it', async () => {
    await protect(apiB, 'ops', 'release-*');
    const held = await ociB.pushImage('ops/pulled', 'release-1');
    await ociA.pushImage('ops/pulled', 'release-1');
    const peer = await apiB.create('/registries', wharfEndpoint('peer-a', a));
    const policy = await apiB.create('/replication/policies', {
      name: 'pull-from-a',
      src_registry: { id: peer },
      filters: [{ type: 'name', value: 'ops/pulled' }],
    });
    const run = await finished(apiB, await apiB.create('/replication/executions', { policy_id: policy }));
    expect(run).toMatchObject({ status: 'Failed', failed: 1 });
    expect(await failedTaskLog(apiB, run.id)).toMatch(/tag release-1 in ops\/pulled is immutable/);
    expect(await headDigest(b.url, adminAuth(b), 'ops/pulled', 'release-1')).toBe(held.digest);
  }, 90_000);
});
