import type { JobContext } from '../../jobs/queue.js';
import type { ExecutionRow, NewTask } from '../../metadata/replication-executions-table.js';
import type { SkippedDeletion } from '../../metadata/replication-skipped-deletions-table.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import {
  compileFilters,
  destinationRepository,
  planReconciliation,
  type ArtifactFacts,
  type RepositoryPair,
} from '../plan/index.js';
import { withholdImpossibleDeletions, type DeletionView } from './deletion-skips.js';
import { projectOf } from './destination-projects.js';
import { workKey } from './open-work.js';
import type { Side, TagRecords } from './sides.js';
import { planTwoWay, type TwoWayPair } from './two-way.js';

// The comparison behind one run of a policy (planner.ts runs it): both sides listed per
// repository under the policy's filters, paired one-way or two-way, planned, and turned into tasks.

export interface RunPlan {
  tasks: NewTask[];
  summary: string;
  /** Destination projects known to exist (their repositories have tags). */
  known: ReadonlySet<string>;
  /** Recorded impossible deletions whose obstacle is gone. */
  lapsed: SkippedDeletion[];
}

export interface PlanInput {
  policy: ReplicationPolicy;
  source: Side;
  destination: Side;
  execution: ExecutionRow;
  deadlineMs: number;
  tombstoneTtlMs: number;
  /** Work open tasks of the policy do already (workKey). */
  open: ReadonlySet<string>;
  skips: readonly SkippedDeletion[];
  job: JobContext;
}

type Filters = ReturnType<typeof compileFilters>;

/** The repositories compared, as one-way and two-way pairs, with what they tell besides. */
interface Pairing {
  pairs: RepositoryPair[];
  twoWay: TwoWayPair[];
  known: Set<string>;
  /** Both sides' whole listings per destination repository: what a recorded skip is checked on. */
  views: Map<string, DeletionView>;
}

/** What a side that cannot tell an artifact's facts (any OCI registry) has: images without labels. */
const AN_IMAGE: ArtifactFacts = { type: 'IMAGE', labels: [] };

export async function planRun(input: PlanInput): Promise<RunPlan> {
  const { policy, job } = input;
  const filters = compileFilters(policy.filters);
  const pairing = await pairRepositories(input, filters);
  const { oneWayPairs, twoWayPairs } = splitFlattened(pairing, filters);
  const oneWay = planReconciliation(oneWayPairs, {
    override: policy.override,
    replicateDeletion: policy.replicateDeletion,
  });
  const both = planTwoWay(twoWayPairs, {
    override: policy.override,
    replicateDeletion: policy.replicateDeletion,
    tagFilter: (tag) => filters.tag(tag),
    now: Date.now(),
    tombstoneTtlMs: input.tombstoneTtlMs,
  });
  const copy = [...oneWay.copy, ...both.copy];
  const deletions = [...oneWay.delete, ...both.delete];
  const allPairs = [...pairing.pairs, ...pairing.twoWay];
  const planned = tasksOf(copy, deletions, allPairs, input.deadlineMs);
  // Deletions the destination cannot perform (recorded by their tasks) wait for their obstacle to go.
  const {
    tasks: possible,
    withheld,
    lapsed,
  } = withholdImpossibleDeletions(planned, input.skips, pairing.views, filters.tag);
  for (const w of withheld) job.log(`skipped ${w.task.dstRepository}:${w.task.tag}: ${w.reason}`);
  // What an open task of this policy does already is not planned twice.
  const tasks = possible.filter(
    (t) => !input.open.has(workKey(t.operation, t.dstRepository, t.tag, t.digest)),
  );
  const skipped = [...oneWay.skipped, ...both.skipped];
  for (const s of skipped)
    job.log(`skipped ${s.destination}:${s.tag}: the destination differs and override is off`);
  for (const c of oneWay.conflicts)
    job.log(`conflict at ${c.destination}:${c.tag}: several sources differ; left alone`);
  const summary = summaryOf({
    repositories: allPairs.length,
    twoWay: pairing.twoWay.length,
    copy: copy.length,
    delete: deletions.length - withheld.length,
    underWay: possible.length - tasks.length,
    unchanged: oneWay.unchanged.length + both.unchanged.length,
    heldByDestination: both.heldByDestination.length,
    skipped: skipped.length,
    impossible: withheld.length,
    conflicts: oneWay.conflicts.length,
  });
  return { tasks, summary, known: pairing.known, lapsed };
}

async function pairRepositories(input: PlanInput, filters: Filters): Promise<Pairing> {
  const { policy, source, execution, job } = input;
  const repositories: string[] = [];
  if (execution.scope_repository !== null) repositories.push(execution.scope_repository);
  else for await (const name of source.repositories(job.signal)) repositories.push(name);
  const pairing: Pairing = { pairs: [], twoWay: [], known: new Set(), views: new Map() };
  for (const name of repositories) {
    if (!filters.repository(name)) continue;
    const mapped = destinationRepository(name, policy.destNamespace, policy.destNamespaceReplaceCount);
    if (!mapped.ok) {
      job.log(`skipped ${name}: ${mapped.reason}`);
      continue;
    }
    await pairRepository(input, filters, name, mapped.name, pairing);
  }
  return pairing;
}

async function pairRepository(
  { source, destination, job }: PlanInput,
  filters: Filters,
  name: string,
  mapped: string,
  pairing: Pairing,
): Promise<void> {
  const listed = await source.tagRecords(name, job.signal, { facts: filters.judgesArtifacts });
  // The label and resource filters judge the source's artifacts. A tag they leave out is
  // neither copied nor deleted at the destination, like a tag the tag filter leaves out.
  const excluded = new Set(
    [...listed.digests.keys()].filter((tag) => !filters.artifact(listed.facts?.get(tag) ?? AN_IMAGE)),
  );
  const here = withoutTags(listed, excluded);
  const listedThere = await destination.tagRecords(mapped, job.signal);
  pairing.views.set(mapped, { source: listed.digests, destination: listedThere.digests });
  const there = withoutTags(listedThere, excluded);
  // A destination repository with tags lives in a project that exists: no need to ask again.
  if (there.digests.size > 0) pairing.known.add(projectOf(mapped));
  if (here.pushTimes && there.pushTimes) {
    // Both sides tell push times: two-way planning (two-way.ts), also right for one-way use.
    pairing.twoWay.push({
      source: name,
      destination: mapped,
      sourceSide: {
        digests: here.digests,
        pushTimes: here.pushTimes,
        tombstones: here.tombstones ?? new Map(),
      },
      destinationSide: {
        digests: there.digests,
        pushTimes: there.pushTimes,
        tombstones: there.tombstones ?? new Map(),
      },
    });
    return;
  }
  // Both sides through the tag filter: a tag the policy does not replicate is never deleted either.
  pairing.pairs.push({
    source: name,
    destination: mapped,
    sourceTags: pickTags(here.digests, filters),
    destinationTags: pickTags(there.digests, filters),
  });
}

/**
 * Flattening may map several sources onto one destination repository: those are planned
 * one-way, where such conflicts are detected and left alone.
 */
function splitFlattened(
  { pairs, twoWay }: Pairing,
  filters: Filters,
): { oneWayPairs: RepositoryPair[]; twoWayPairs: TwoWayPair[] } {
  const perDestination = new Map<string, number>();
  for (const p of [...pairs, ...twoWay])
    perDestination.set(p.destination, (perDestination.get(p.destination) ?? 0) + 1);
  const shared = (p: TwoWayPair) => (perDestination.get(p.destination) ?? 0) > 1;
  // Added to `pairs` itself, as the planner always did: the sources of each destination count once.
  for (const p of twoWay.filter(shared)) {
    pairs.push({
      source: p.source,
      destination: p.destination,
      sourceTags: pickTags(p.sourceSide.digests, filters),
      destinationTags: pickTags(p.destinationSide.digests, filters),
    });
  }
  return { oneWayPairs: pairs, twoWayPairs: twoWay.filter((p) => !shared(p)) };
}

function pickTags(tags: ReadonlyMap<string, string>, filters: Filters): Map<string, string> {
  return new Map([...tags].filter(([tag]) => filters.tag(tag)));
}

function tasksOf(
  copy: readonly { source: string; destination: string; tag: string; digest: string }[],
  deletions: readonly { destination: string; tag: string; digest: string }[],
  allPairs: readonly { source: string; destination: string }[],
  deadlineMs: number,
): NewTask[] {
  const sourceOf = new Map(allPairs.map((p) => [p.destination, p.source]));
  return [
    ...copy.map((c) => ({
      operation: 'copy' as const,
      srcRepository: c.source,
      dstRepository: c.destination,
      tag: c.tag,
      digest: c.digest,
      deadlineMs,
    })),
    ...deletions.map((d) => ({
      operation: 'deletion' as const,
      srcRepository: sourceOf.get(d.destination) ?? d.destination,
      dstRepository: d.destination,
      tag: d.tag,
      digest: d.digest,
      deadlineMs,
    })),
  ];
}

function summaryOf(n: {
  repositories: number;
  twoWay: number;
  copy: number;
  delete: number;
  underWay: number;
  unchanged: number;
  heldByDestination: number;
  skipped: number;
  impossible: number;
  conflicts: number;
}): string {
  const underWay = n.underWay > 0 ? ` (${n.underWay} under way already)` : '';
  const held = n.heldByDestination > 0 ? `, ${n.heldByDestination} won by the destination` : '';
  const impossible =
    n.impossible > 0 ? `, ${n.impossible} deletions the destination cannot perform skipped` : '';
  return `${n.repositories} repositories compared (${n.twoWay} two-way): ${n.copy} to copy, ${n.delete} to delete${underWay}, ${n.unchanged} unchanged${held}, ${n.skipped} skipped${impossible}, ${n.conflicts} conflicts`;
}

function withoutTags(records: TagRecords, tags: ReadonlySet<string>): TagRecords {
  if (tags.size === 0) return records;
  const keep = <V>(map: Map<string, V> | null) =>
    map === null ? null : new Map([...map].filter(([tag]) => !tags.has(tag)));
  return {
    digests: keep(records.digests) ?? new Map(),
    pushTimes: keep(records.pushTimes),
    tombstones: keep(records.tombstones),
    facts: keep(records.facts),
  };
}
