import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allTasks,
  allExecutions,
  deleteTag,
  quiescent,
  reconcileAll,
  tagMap,
  taskLogs,
  type PolicySet,
} from '../helpers/multi-master.js';
import { startPartitionProxy, type PartitionProxy } from '../helpers/partition-proxy.js';
import { closeAll, FAST_RETRIES, startInProcessWharfs } from '../helpers/in-process-cluster.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { ociOf } from '../helpers/replication-cluster.js';
import { adminApi, clockPast, runsRetryingSince, wharfEndpoint } from '../helpers/replication.js';
import { replicationIdle } from '../helpers/replication-idle.js';
import { waitFor } from '../helpers/poll.js';

// Three Wharf registries (built in the test process, each its own database, storage and loopback
// port) in a full two-way mesh: every registry has an event-based push policy
// (replicate_deletion on) towards each of the other two, six policies in all, and reaches each
// peer through a TCP proxy of that link (six proxies). First, all connected: tags pushed on each
// of the three, one tag pushed on all three with different content one after the other without
// waiting for replication (the last push, on C, must win everywhere), a deletion on B; the mesh
// settles with identical tag → digest maps on the three, the number of tasks is bounded, and a
// manual reconciliation of all six policies plans nothing (no loop; the deletion does not come
// back). Then C is cut off (the four links to and from C refuse every connection; A and B still
// reach each other): pushes on both sides of the cut, two tags pushed on both sides, a deletion on
// C; healed with no manual step, the three converge again. Each part has its own repository.

const NAMES = ['a', 'b', 'c'] as const;
type Name = (typeof NAMES)[number];
type TagMap = Record<string, string>;

const sorted = (map: TagMap): TagMap =>
  Object.fromEntries(Object.entries(map).sort(([x], [y]) => (x < y ? -1 : 1)));

describe('two-way replication in a mesh of three', () => {
  const node = {} as Record<Name, InProcessWharf>;
  /** link[from][to]: the proxy through which `from` reaches `to`. */
  const link = {} as Record<Name, Partial<Record<Name, PartitionProxy>>>;
  const links = () => NAMES.flatMap((f) => Object.values(link[f] ?? {}));
  /** Cuts (or heals) every link from and to `name`. */
  const isolate = (name: Name, cut: boolean) => {
    for (const other of NAMES.filter((x) => x !== name)) {
      for (const p of [link[name]?.[other], link[other]?.[name]]) {
        if (cut) p?.cut();
        else p?.heal();
      }
    }
  };
  const sets: PolicySet[] = [];
  /** Every push of the test: where, what, and when (ms, as the test saw it return). */
  const versions: Array<{ on: Name; repository: string; tag: string; digest: string; at: number }> = [];
  const push = async (on: Name, repository: string, tag: string) => {
    const image = await ociOf(node[on]).pushImage(repository, tag);
    versions.push({ on, repository, tag, digest: image.digest, at: Date.now() });
    return image;
  };
  const maps = async (repository: string) => {
    const result = {} as Record<Name, TagMap>;
    for (const n of NAMES) result[n] = await tagMap(node[n], repository);
    return result;
  };

  /**
   * For a failure's message: what each registry holds against what is expected, every push of
   * the test, each registry's push time of the tags that differ (origin-corrected, as its
   * peers read it), and the logs of the tasks that wrote those tags.
   */
  const diagnosis = async (repository: string, expected: TagMap) => {
    const now = await maps(repository);
    const differing = Object.keys({ ...expected, ...now.a, ...now.b, ...now.c }).filter((tag) =>
      NAMES.some((n) => now[n][tag] !== expected[tag]),
    );
    const lines = [`want ${JSON.stringify(expected)}`, `now ${JSON.stringify(now)}`];
    for (const v of versions.filter((x) => x.repository === repository))
      lines.push(`pushed ${v.tag} on ${v.on}: ${v.digest} at ${new Date(v.at).toISOString()}`);
    const [project, ...rest] = repository.split('/');
    for (const n of NAMES) {
      const artifacts = await adminApi(node[n]).json<
        Array<{ digest: string; tags: Array<{ name: string; push_time: string }> | null }>
      >(
        'GET',
        `/projects/${project}/repositories/${encodeURIComponent(rest.join('/'))}/artifacts?with_tag=true&page_size=100`,
      );
      for (const a of artifacts)
        for (const t of a.tags ?? [])
          if (differing.includes(t.name))
            lines.push(`${n} has ${t.name} = ${a.digest} pushed ${t.push_time}`);
    }
    for (const tag of differing) lines.push(await taskLogs(sets, `${repository}:${tag}`));
    return lines.join('\n');
  };
  /** Every registry holds exactly `expected` now. */
  const expectEverywhere = async (repository: string, expected: TagMap) => {
    const now = await maps(repository);
    if (NAMES.some((n) => JSON.stringify(now[n]) !== JSON.stringify(expected)))
      expect.fail(`the registries differ from what is expected\n${await diagnosis(repository, expected)}`);
  };
  /** Waits until every registry holds exactly `expected`; returns the milliseconds waited. */
  const converged = async (repository: string, expected: TagMap, what: string) => {
    const began = Date.now();
    const want = JSON.stringify(expected);
    await waitFor(
      what,
      async () => {
        const m = await maps(repository);
        return NAMES.every((n) => JSON.stringify(m[n]) === want) ? true : undefined;
      },
      180_000,
      250,
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await diagnosis(repository, expected)}`);
    });
    return Date.now() - began;
  };
  /** Every run ended, and once no registry has replication work left, nothing new planned: no loop. */
  const settle = async () => {
    const first = await quiescent(sets);
    await replicationIdle(NAMES.map((n) => node[n]));
    expect(await quiescent(sets)).toEqual(first);
    return first;
  };
  /** The tasks of every policy on one repository, counted by operation and tag. */
  const tasksOn = async (repository: string) => {
    const tasks = (await allTasks(sets)).filter((t) => t.dst_resource.startsWith(`${repository}:`));
    const counts = new Map<string, number>();
    for (const t of tasks) {
      const key = `${t.operation} ${t.dst_resource.slice(repository.length + 1)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const text = [...counts]
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ');
    return { tasks, text };
  };

  beforeAll(async () => {
    // Retries back off 2 s doubling up to 5 s (the default cap is a minute): the peer's return is
    // seen within seconds however long it was away on a busy machine.
    const started = await startInProcessWharfs(3, FAST_RETRIES, 'mesh');
    NAMES.forEach((n, i) => (node[n] = started[i] as InProcessWharf));
    for (const from of NAMES) {
      const api = adminApi(node[from]);
      const policies: number[] = [];
      const reach: Partial<Record<Name, PartitionProxy>> = {};
      link[from] = reach;
      for (const to of NAMES.filter((x) => x !== from)) {
        const proxy = await startPartitionProxy(node[to].port);
        reach[to] = proxy;
        const endpoint = await api.create('/registries', {
          ...wharfEndpoint(to, node[to]),
          url: proxy.url,
        });
        policies.push(
          await api.create('/replication/policies', {
            name: `${from}-to-${to}`,
            dest_registry: { id: endpoint },
            filters: [{ type: 'name', value: 'test/mesh-**' }],
            trigger: { type: 'event_based' },
            replicate_deletion: true,
            override: true,
          }),
        );
      }
      sets.push({ name: from, api, policies });
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(links().map((p) => p.close()));
    await closeAll(NAMES.map((n) => node[n]));
  }, 60_000);

  it('pushes on all three and a deletion: identical maps, the last push wins, no loop', async () => {
    const repo = 'test/mesh-app';
    const doomed = await push('a', repo, 'doomed');
    await converged(repo, { doomed: doomed.digest }, 'doomed everywhere');

    // All at once, with no wait for replication in between: one tag of each registry's own, the
    // same tag on A, then B, then C (C's push is the last one), and doomed deleted on B.
    const fromA = await push('a', repo, 'from-a');
    const fromB = await push('b', repo, 'from-b');
    const fromC = await push('c', repo, 'from-c');
    const everywhere = [];
    for (const n of NAMES) {
      everywhere.push(await push(n, repo, 'everywhere'));
      await clockPast(Date.now());
    }
    await deleteTag(node.b, repo, 'doomed');
    const expected = sorted({
      everywhere: everywhere[2]?.digest ?? '',
      'from-a': fromA.digest,
      'from-b': fromB.digest,
      'from-c': fromC.digest,
    });
    // The last push must win everywhere. What makes it hold while copies race: a copy task
    // asks the two-way rule again before it copies and right before it writes the tag (a
    // later push at the destination wins), copies the source's version by digest, and its tag
    // write carries the origin push time, recorded with the tag in one transaction (so a relay
    // never sees the copy's own time as a push time). Without these it failed about half the runs.
    const waited = await converged(repo, expected, 'the three registries to hold the same tags');
    const quiet = await settle();
    await expectEverywhere(repo, expected);
    const { tasks, text } = await tasksOn(repo);
    console.log(
      `mesh: converged after ${waited} ms; ${quiet.executions} executions, ${quiet.tasks} tasks: ${text}`,
    );
    expect(tasks.filter((t) => t.status !== 'Succeed')).toEqual([]);
    // What the work needs at least: doomed, from-a, from-b, from-c and C's `everywhere` copied
    // to the two others (10 copies), doomed deleted at A and C (2). At most, every version
    // pushed (7) reaches each of the two others twice, directly and relayed by the third
    // (which plans it before the origin push time is recorded there), and each deletion twice:
    // bounded by the versions, never by time. A loop would not stop at that.
    expect(quiet.tasks).toBeGreaterThanOrEqual(12);
    expect(quiet.tasks).toBeLessThanOrEqual(7 * 2 * 2 + 2 * 2);

    const again = await reconcileAll(sets);
    expect(again.map((e) => [e.status, e.total])).toEqual(again.map(() => ['Succeed', 0]));
    await expectEverywhere(repo, expected);
  }, 420_000);

  it('C cut off, pushes on both sides of the cut: healed, the three converge with no manual step', async () => {
    const repo = 'test/mesh-split';
    const kept = await push('a', repo, 'kept');
    const gone = await push('a', repo, 'gone');
    await converged(repo, sorted({ kept: kept.digest, gone: gone.digest }), 'kept and gone everywhere');
    const before = await quiescent(sets);
    // Each registry numbers its executions: the last one of each before the cut.
    const lastRunBefore = new Map<PolicySet, number>();
    for (const set of sets)
      lastRunBefore.set(set, Math.max(0, ...(await allExecutions([set])).map((e) => e.id)));

    isolate('c', true);
    const partA = await push('a', repo, 'part-a');
    const partC = await push('c', repo, 'part-c');
    // `split-b`: C, then B later (B wins); `split-c`: A, then C later (C wins).
    await push('c', repo, 'split-b');
    await push('a', repo, 'split-c');
    await clockPast(Date.now());
    const splitB = await push('b', repo, 'split-b');
    const splitC = await push('c', repo, 'split-c');
    await deleteTag(node.c, repo, 'gone');

    // A and B still replicate to each other; nothing crosses to or from C.
    await waitFor("part-a at B and B's split-b at A", async () =>
      (await tagMap(node.b, repo))['part-a'] === partA.digest &&
      (await tagMap(node.a, repo))['split-b'] === splitB.digest
        ? true
        : undefined,
    );
    // Every event has become its run (no event or task left anywhere), and every run towards or
    // from C since the cut backs off: nothing more can cross until the heal.
    await replicationIdle(
      NAMES.map((n) => node[n]),
      60_000,
      ['replication-event', 'replication-task'],
    );
    for (const set of sets) {
      for (const [i, policy] of set.policies.entries()) {
        const to = NAMES.filter((x) => x !== set.name)[i];
        if (set.name === 'c' || to === 'c')
          await runsRetryingSince(set.api, policy, lastRunBefore.get(set) ?? 0);
      }
    }
    const during = await maps(repo);
    expect(during.c['part-a']).toBeUndefined();
    expect(during.a['part-c']).toBeUndefined();
    expect(during.a.gone).toBe(gone.digest);
    expect(during.b.gone).toBe(gone.digest);
    console.log(`mesh partition: ${links().reduce((n, p) => n + p.refused(), 0)} connections refused`);

    isolate('c', false);
    const expected = sorted({
      kept: kept.digest,
      'part-a': partA.digest,
      'part-c': partC.digest,
      'split-b': splitB.digest,
      'split-c': splitC.digest,
    });
    const waited = await converged(repo, expected, 'the three registries to converge after the heal');
    const quiet = await settle();
    await expectEverywhere(repo, expected);
    const { tasks, text } = await tasksOn(repo);
    console.log(
      `mesh heal: converged ${waited} ms after the heal; ${quiet.executions - before.executions} executions ` +
        `and ${quiet.tasks - before.tasks} tasks since the cut (${text})`,
    );
    expect(tasks.filter((t) => t.status !== 'Succeed')).toEqual([]);
    // Needed since the cut: during it, part-a to B, A's split-c to B and B's split-b to A; after
    // it, part-a to C, part-c and C's split-c to A and B, B's split-b to C (9 copies), and gone
    // deleted at A and B (2). At most: the 7 versions pushed since the cut each to the two
    // others twice, and the deletion twice to each.
    expect(quiet.tasks - before.tasks).toBeGreaterThanOrEqual(11);
    expect(quiet.tasks - before.tasks).toBeLessThanOrEqual(7 * 2 * 2 + 2 * 2);

    const again = await reconcileAll(sets);
    expect(again.map((e) => [e.status, e.total])).toEqual(again.map(() => ['Succeed', 0]));
    await expectEverywhere(repo, expected);
  }, 420_000);
});
