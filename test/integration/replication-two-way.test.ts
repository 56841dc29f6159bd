import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciClient } from '../helpers/oci-client.js';
import {
  adminApi,
  clockPast,
  finished,
  headDigest,
  quiescentTasks,
  wharfEndpoint,
} from '../helpers/replication.js';
import { quiescent } from '../helpers/multi-master.js';
import { replicationIdle } from '../helpers/replication-idle.js';
import { closeAll, startInProcessWharfs } from '../helpers/in-process-cluster.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { adminAuth } from '../helpers/server.js';
import { waitFor } from '../helpers/poll.js';

// Two-way (multi-master) replication between two Wharf instances built in the test process, each
// with its own database, storage and loopback port, and an event-based push policy on each side towards the other. A partition
// (both policies disabled) lets both sides take pushes, one tag with different content on each;
// healing (enabled again, one reconciliation each) leaves identical tag → digest maps with the
// later push as the winner, in a bounded number of tasks (the bounces plan nothing). A deletion
// propagates, keeps the origin's time, and reconciliation does not bring it back; tombstones
// expire.

const REPO = 'test/tw-app';
const TAGS = ['shared', 'only-a', 'only-b'];

describe('two-way replication', () => {
  let a: InProcessWharf;
  let b: InProcessWharf;
  let apiA: ReturnType<typeof adminApi>;
  let apiB: ReturnType<typeof adminApi>;
  let ociA: OciClient;
  let ociB: OciClient;
  let aToB: number;
  let bToA: number;
  const at = (h: InProcessWharf, repository: string, tag: string) =>
    headDigest(h.url, adminAuth(h), repository, tag);
  const enable = async (enabled: boolean) => {
    for (const [api, id] of [
      [apiA, aToB],
      [apiB, bToA],
    ] as const) {
      const res = await api.call('PUT', `/replication/policies/${id}`, { enabled });
      expect(res.status).toBe(200);
    }
  };
  const reconcileBoth = async () => {
    const [ea, eb] = await Promise.all([
      apiA.create('/replication/executions', { policy_id: aToB }),
      apiB.create('/replication/executions', { policy_id: bToA }),
    ]);
    return Promise.all([finished(apiA, ea, 60_000), finished(apiB, eb, 60_000)]);
  };
  const policy = (name: string, registry: number) => ({
    name,
    dest_registry: { id: registry },
    filters: [{ type: 'name', value: 'test/tw-**' }],
    trigger: { type: 'event_based' },
    replicate_deletion: true,
    override: true,
  });

  beforeAll(async () => {
    [a, b] = (await startInProcessWharfs(2, {}, 'two-way')) as [InProcessWharf, InProcessWharf];
    apiA = adminApi(a);
    apiB = adminApi(b);
    ociA = new OciClient(a.url, adminAuth(a));
    ociB = new OciClient(b.url, adminAuth(b));
    aToB = await apiA.create(
      '/replication/policies',
      policy('a-to-b', await apiA.create('/registries', wharfEndpoint('b', b))),
    );
    bToA = await apiB.create(
      '/replication/policies',
      policy('b-to-a', await apiB.create('/registries', wharfEndpoint('a', a))),
    );
  }, 120_000);

  afterAll(async () => {
    await closeAll([a, b]);
  }, 60_000);

  it('after a partition both sides hold identical tags, the later push wins, and tasks stay bounded', async () => {
    await enable(false); // the partition
    const first = await ociA.pushImage(REPO, 'shared');
    const firstDone = Date.now();
    await ociA.pushImage(REPO, 'only-a');
    await ociA.pushImage('test/tw-a-side', 'v1');
    await ociB.pushImage(REPO, 'only-b');
    // B's push of `shared` is surely the later one: the clock has moved past the end of A's.
    await clockPast(firstDone);
    const later = await ociB.pushImage(REPO, 'shared');
    expect(later.digest).not.toBe(first.digest);

    await enable(true); // heal
    const [ranA, ranB] = await reconcileBoth();
    expect(ranA).toMatchObject({ status: 'Succeed' });
    expect(ranB).toMatchObject({ status: 'Succeed' });
    // Both sides at once, read twice a second apart: a run started by a copy landing on one side
    // while the other was being read is counted too.
    const sides = [
      { name: 'a', api: apiA, policies: [aToB] },
      { name: 'b', api: apiB, policies: [bToA] },
    ];
    const { tasks } = await quiescent(sides);
    for (const tag of TAGS) {
      const [da, db] = [await at(a, REPO, tag), await at(b, REPO, tag)];
      expect(da, tag).not.toBeNull();
      expect(da, tag).toBe(db);
    }
    expect(await at(a, REPO, 'shared')).toBe(later.digest);
    expect(await at(b, 'test/tw-a-side', 'v1')).not.toBeNull();
    // 4 copies are needed (only-a, tw-a-side:v1 to B; shared, only-b to A). Event runs started
    // by the copies coming in plan nothing (same digests, or the work is under way already); a
    // run planned at the very moment another plans the same copy may add one. No loop.
    expect(tasks).toBeGreaterThanOrEqual(4);
    expect(tasks).toBeLessThanOrEqual(6);
    // No loop: once neither side has replication work left (no event undispatched, no job
    // waiting or running), the count is final; a bounce that went on would keep work going.
    await replicationIdle([a, b]);
    const settled = await quiescent(sides);
    expect(settled.tasks).toBe(tasks);
    console.log(`two-way heal: ${tasks} replication tasks in all`);
    // Copies keep their origin's push time: a second reconciliation on both sides does nothing.
    const again = await reconcileBoth();
    expect(again.map((e) => e.total)).toEqual([0, 0]);
  }, 180_000);

  it('a deletion propagates with its origin time, and reconciliation never brings it back', async () => {
    const del = await fetch(`${a.url}/v2/${REPO}/manifests/only-a`, {
      method: 'DELETE',
      headers: { authorization: adminAuth(a) },
    });
    expect(del.status).toBe(202);
    await waitFor('the deletion at B', async () =>
      (await at(b, REPO, 'only-a')) === null ? true : undefined,
    );
    await quiescentTasks(apiA, [aToB]);
    await quiescentTasks(apiB, [bToA]);
    type Tombstone = { tag: string; digest: string; deleted_at: string };
    const query = `/replication/tombstones?repository=${encodeURIComponent(REPO)}`;
    const [onA] = (await apiA.json<Tombstone[]>('GET', query)).filter((t) => t.tag === 'only-a');
    expect(onA).toBeDefined();
    await waitFor('the origin deletion time at B', async () => {
      const [onB] = (await apiB.json<Tombstone[]>('GET', query)).filter((t) => t.tag === 'only-a');
      return onB?.deleted_at === onA?.deleted_at ? true : undefined;
    });
    const runs = await reconcileBoth();
    expect(runs.map((e) => e.total)).toEqual([0, 0]);
    expect(await at(a, REPO, 'only-a')).toBeNull();
    expect(await at(b, REPO, 'only-a')).toBeNull();
    // The extension is for system administrators only.
    expect((await fetch(`${a.url}/api/v2.0${query}`)).status).toBe(401);
  }, 120_000);

  it('a tombstone beats older pushes until it expires', async () => {
    await enable(false);
    const image = await ociA.pushImage('test/tw-exp', 'v1');
    const put = (api: ReturnType<typeof adminApi>, path: string, body: unknown) =>
      api.json<{ recorded: boolean }>('PUT', path, body);
    const day = 86_400_000;
    const iso = (ms: number) => new Date(Date.now() - ms).toISOString();
    const fields = { repository: 'test/tw-exp', tag: 'v1', digest: image.digest };
    // A's push is 2 days old (as if replicated from elsewhere); B deleted the tag a day ago.
    expect(await put(apiA, '/replication/tag-origins', { ...fields, push_time: iso(2 * day) })).toEqual({
      recorded: true,
    });
    expect(await put(apiB, '/replication/tombstones', { ...fields, deleted_at: iso(day) })).toEqual({
      recorded: true,
    });
    await enable(true);
    const kept = await finished(apiA, await apiA.create('/replication/executions', { policy_id: aToB }));
    expect(kept.total).toBe(0);
    expect(await at(b, 'test/tw-exp', 'v1')).toBeNull();
    // Past the TTL (7 days) the tombstone is no record at all: the tag is copied again.
    await put(apiA, '/replication/tag-origins', { ...fields, push_time: iso(9 * day) });
    await put(apiB, '/replication/tombstones', { ...fields, deleted_at: iso(8 * day) });
    expect(await apiB.json('GET', '/replication/tombstones?repository=test/tw-exp')).toEqual([]);
    const copied = await finished(apiA, await apiA.create('/replication/executions', { policy_id: aToB }));
    expect(copied).toMatchObject({ status: 'Succeed', total: 1 });
    expect(await at(b, 'test/tw-exp', 'v1')).toBe(image.digest);
  }, 120_000);
});
