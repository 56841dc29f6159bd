import { FinalJobFailure, type JobContext } from '../../jobs/queue.js';
import {
  endExecution,
  findExecution,
  finishExecutionIfDone,
  insertExecution,
  insertTasks,
  markPlanned,
  noteExecutionWaiting,
  setExecutionJob,
  setTaskJob,
  startPlanning,
  type ExecutionRow,
  type NewTask,
} from '../../metadata/replication-executions-table.js';
import {
  forgetSkippedDeletions,
  listSkippedDeletions,
  type SkippedDeletion,
} from '../../metadata/replication-skipped-deletions-table.js';
import { purgeTombstones } from '../../metadata/tombstones-table.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import {
  compileFilters,
  destinationRepository,
  planReconciliation,
  type ArtifactFacts,
  type RepositoryPair,
} from '../plan/index.js';
import { withholdImpossibleDeletions, type DeletionView } from './deletion-skips.js';
import { prepareDestinationProjects, projectOf } from './destination-projects.js';
import { isRetryable, messageOf } from './failures.js';
import { openWork, workKey } from './open-work.js';
import type { Reconciler } from './reconciler.js';
import { sidesOf, tombstoneTtlOf, type Side, type TagRecords } from './sides.js';
import { planTwoWay, type TwoWayPair } from './two-way.js';
import { TASK_JOB, type ExecutionDeps, type ExecutionPayload } from './types.js';

// The replication-execution job: plans one run of a policy as a reconciliation. It lists what
// the source holds under the policy's filters and what the destination holds under the mapped
// names (tag → digest), lets planReconciliation decide the difference, and turns it into tasks,
// one replication-task job each. Every trigger runs this same comparison, so a run after an
// outage copies exactly what is missing. The peer unreachable: the job fails and the job service
// retries it with backoff until the policy's deadline; then the execution fails and a new
// reconciliation is asked for.
//
// When both sides tell push times (this registry, a Wharf or Harbor peer) the run is planned by
// the two-way rule (two-way.ts): latest push wins, tombstones keep deletions deleted, and a tag
// the destination holds a newer version of is left alone, so a push policy on each side makes a
// multi-master pair. A docker-registry peer gives no push times: one-way planning, as before.

/** First key of the advisory lock that serialises the planning of one policy (the second is its id). */
const PLANNING_LOCK = 72_041;

export async function runExecutionJob(
  deps: ExecutionDeps,
  reconciler: Reconciler,
  deadlineMs: number,
  job: JobContext,
): Promise<void> {
  const execution = await executionOf(deps, job);
  if (!execution || execution.status !== 'InProgress' || execution.planned) return;
  const policy = await deps.policies.byId(execution.policy_id);
  if (!policy) {
    const message = `policy ${execution.policy_id} no longer exists`;
    await endExecution(deps.db, execution.id, 'Failed', message);
    throw new FinalJobFailure(message);
  }
  await startPlanning(deps.db, execution.id);
  // Housekeeping on the job service: tombstones past their TTL count as absent already.
  await purgeTombstones(deps.db, new Date(Date.now() - tombstoneTtlOf(deps)));
  const sides = await sidesOf(deps, policy);
  const remoteId = sides.source.registryId ?? sides.destination.registryId;
  let tasks: NewTask[];
  let summary: string;
  let lapsed: SkippedDeletion[];
  try {
    let known: ReadonlySet<string>;
    ({ tasks, summary, known, lapsed } = await plan(
      policy,
      sides.source,
      sides.destination,
      execution,
      deadlineMs,
      tombstoneTtlOf(deps),
      // Read before the sides: a task that ends meanwhile shows as done there.
      await openWork(deps.db, policy.id),
      await listSkippedDeletions(deps.db, policy.id),
      job,
    ));
    await prepareDestinationProjects(tasks, known, sides.source, sides.destination, job);
  } catch (err) {
    if (job.signal.aborted) throw err;
    const message = messageOf(err);
    const retryable = isRetryable(err);
    if (retryable && remoteId !== null) await deps.registries.recordHealth(remoteId, false);
    if (retryable && Date.now() < execution.start_time.getTime() + deadlineMs) {
      // The job service logs the failed attempt and its retry. Shown in the execution list: an
      // InProgress run says what it is waiting for. (Best effort: with the database away the
      // retry itself is what matters.)
      await noteExecutionWaiting(
        deps.db,
        execution.id,
        `planning attempt ${job.attempt} failed, retrying: ${message}`.slice(0, 500),
      ).catch(() => undefined);
      throw err;
    }
    await endExecution(deps.db, execution.id, 'Failed', message);
    // The retry window is over: a fresh run will compare both sides again once the peer is back.
    if (retryable) await reconciler.request(policy.id, `the retry window of execution ${execution.id} ended`);
    // The job's one outcome line, as the execution's status says: failed.
    throw new FinalJobFailure(`planning failed: ${message}${retryable ? '; the retry window is over' : ''}`, {
      cause: err,
    });
  } finally {
    await sides.close();
  }
  if (job.attempt > 1 && remoteId !== null) {
    await deps.registries.recordHealth(remoteId, true);
    // The peer answers again: what else failed meanwhile converges through one more run.
    if (execution.scope_repository !== null) await reconciler.request(policy.id, 'the peer answers again');
  }
  job.signal.throwIfAborted();
  await deps.db.transaction(async (tx) => {
    // Runs of one policy may plan at the same moment (after an outage, every retried task asks
    // for a reconciliation). Each planned against the open work it read before listing the sides;
    // under this lock the open work is read again and only what nobody has taken meanwhile goes in,
    // so concurrent runs do not copy the same tags twice.
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [PLANNING_LOCK, policy.id]);
    const open = await openWork(tx, policy.id);
    const fresh = tasks.filter((t) => !open.has(workKey(t.operation, t.dstRepository, t.tag, t.digest)));
    if (fresh.length < tasks.length)
      job.log(`${tasks.length - fresh.length} planned tasks are already under way`);
    tasks = fresh;
    // Impossible deletions whose obstacle is gone are planned again from now on.
    await forgetSkippedDeletions(tx, policy.id, lapsed);
    // Tasks, their jobs and the planned mark in one transaction: a crash leaves either a plan
    // whose every task has its job, or no plan at all (and this job runs again).
    const rows = await insertTasks(tx, execution.id, tasks);
    for (const task of rows) {
      const row = await deps.jobs.enqueue(TASK_JOB, { taskId: task.id }, { db: tx });
      await setTaskJob(tx, task.id, row.id);
    }
    await markPlanned(tx, execution.id, tasks.length, summary);
  });
  deps.jobs.wake();
  job.log(summary);
  // A plan with nothing to do (or whose tasks all ended already) is finished here.
  await finishExecutionIfDone(deps.db, execution.id);
}

/** What a side that cannot tell an artifact's facts (any OCI registry) has: images without labels. */
const AN_IMAGE: ArtifactFacts = { type: 'IMAGE', labels: [] };

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

/** The execution of this job: given, or (a schedule's job) made on its first run. */
async function executionOf(deps: ExecutionDeps, job: JobContext): Promise<ExecutionRow | null> {
  const payload = job.payload as ExecutionPayload;
  if ('executionId' in payload) return findExecution(deps.db, payload.executionId);
  const policy = await deps.policies.byId(payload.policyId);
  if (!policy?.enabled) return null;
  const row = await insertExecution(deps.db, {
    policyId: payload.policyId,
    trigger: 'scheduled',
    originJobId: job.id,
  });
  if (row && row.job_id === null) await setExecutionJob(deps.db, row.id, job.id);
  return row;
}

async function plan(
  policy: ReplicationPolicy,
  source: Side,
  destination: Side,
  execution: ExecutionRow,
  deadlineMs: number,
  tombstoneTtlMs: number,
  open: ReadonlySet<string>,
  skips: readonly SkippedDeletion[],
  job: JobContext,
): Promise<{ tasks: NewTask[]; summary: string; known: ReadonlySet<string>; lapsed: SkippedDeletion[] }> {
  const { signal } = job;
  const filters = compileFilters(policy.filters);
  const repositories: string[] = [];
  if (execution.scope_repository !== null) repositories.push(execution.scope_repository);
  else for await (const name of source.repositories(signal)) repositories.push(name);

  const pairs: RepositoryPair[] = [];
  const known = new Set<string>();
  // Both sides' whole listings per destination repository: what a recorded skip is checked on.
  const views = new Map<string, DeletionView>();
  const twoWay: TwoWayPair[] = [];
  for (const name of repositories) {
    if (!filters.repository(name)) continue;
    const mapped = destinationRepository(name, policy.destNamespace, policy.destNamespaceReplaceCount);
    if (!mapped.ok) {
      job.log(`skipped ${name}: ${mapped.reason}`);
      continue;
    }
    const pick = (tags: Map<string, string>) => new Map([...tags].filter(([tag]) => filters.tag(tag)));
    const listed = await source.tagRecords(name, signal, { facts: filters.judgesArtifacts });
    // The label and resource filters judge the source's artifacts. A tag they leave out is
    // neither copied nor deleted at the destination, like a tag the tag filter leaves out.
    const excluded = new Set(
      [...listed.digests.keys()].filter((tag) => !filters.artifact(listed.facts?.get(tag) ?? AN_IMAGE)),
    );
    const here = withoutTags(listed, excluded);
    const listedThere = await destination.tagRecords(mapped.name, signal);
    views.set(mapped.name, { source: listed.digests, destination: listedThere.digests });
    const there = withoutTags(listedThere, excluded);
    // A destination repository with tags lives in a project that exists: no need to ask again.
    if (there.digests.size > 0) known.add(projectOf(mapped.name));
    if (here.pushTimes && there.pushTimes) {
      // Both sides tell push times: two-way planning (two-way.ts), also right for one-way use.
      twoWay.push({
        source: name,
        destination: mapped.name,
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
      continue;
    }
    // Both sides through the tag filter: a tag the policy does not replicate is never deleted either.
    pairs.push({
      source: name,
      destination: mapped.name,
      sourceTags: pick(here.digests),
      destinationTags: pick(there.digests),
    });
  }
  // Flattening may map several sources onto one destination repository: those are planned
  // one-way, where such conflicts are detected and left alone.
  const perDestination = new Map<string, number>();
  for (const p of [...pairs, ...twoWay])
    perDestination.set(p.destination, (perDestination.get(p.destination) ?? 0) + 1);
  for (const p of twoWay.filter((t) => (perDestination.get(t.destination) ?? 0) > 1)) {
    const pick = (tags: ReadonlyMap<string, string>) =>
      new Map([...tags].filter(([tag]) => filters.tag(tag)));
    pairs.push({
      source: p.source,
      destination: p.destination,
      sourceTags: pick(p.sourceSide.digests),
      destinationTags: pick(p.destinationSide.digests),
    });
  }
  const oneWay = planReconciliation(pairs, {
    override: policy.override,
    replicateDeletion: policy.replicateDeletion,
  });
  const both = planTwoWay(
    twoWay.filter((t) => (perDestination.get(t.destination) ?? 0) === 1),
    {
      override: policy.override,
      replicateDeletion: policy.replicateDeletion,
      tagFilter: (tag) => filters.tag(tag),
      now: Date.now(),
      tombstoneTtlMs: tombstoneTtlMs,
    },
  );
  const result = {
    copy: [...oneWay.copy, ...both.copy],
    delete: [...oneWay.delete, ...both.delete],
    unchanged: [...oneWay.unchanged, ...both.unchanged],
    skipped: [...oneWay.skipped, ...both.skipped],
    conflicts: oneWay.conflicts,
  };
  const allPairs = [...pairs, ...twoWay];
  const sourceOf = new Map(allPairs.map((p) => [p.destination, p.source]));
  const planned: NewTask[] = [
    ...result.copy.map((c) => ({
      operation: 'copy' as const,
      srcRepository: c.source,
      dstRepository: c.destination,
      tag: c.tag,
      digest: c.digest,
      deadlineMs,
    })),
    ...result.delete.map((d) => ({
      operation: 'deletion' as const,
      srcRepository: sourceOf.get(d.destination) ?? d.destination,
      dstRepository: d.destination,
      tag: d.tag,
      digest: d.digest,
      deadlineMs,
    })),
  ];
  // Deletions the destination cannot perform (recorded by their tasks) wait for their obstacle to go.
  const {
    tasks: possible,
    withheld,
    lapsed,
  } = withholdImpossibleDeletions(planned, skips, views, filters.tag);
  for (const w of withheld) job.log(`skipped ${w.task.dstRepository}:${w.task.tag}: ${w.reason}`);
  // What an open task of this policy does already is not planned twice.
  const tasks = possible.filter((t) => !open.has(workKey(t.operation, t.dstRepository, t.tag, t.digest)));
  const underWay = possible.length - tasks.length;
  for (const s of result.skipped)
    job.log(`skipped ${s.destination}:${s.tag}: the destination differs and override is off`);
  for (const c of result.conflicts)
    job.log(`conflict at ${c.destination}:${c.tag}: several sources differ; left alone`);
  const held =
    both.heldByDestination.length > 0 ? `, ${both.heldByDestination.length} won by the destination` : '';
  const impossible =
    withheld.length > 0 ? `, ${withheld.length} deletions the destination cannot perform skipped` : '';
  const summary = `${allPairs.length} repositories compared (${twoWay.length} two-way): ${result.copy.length} to copy, ${result.delete.length - withheld.length} to delete${underWay > 0 ? ` (${underWay} under way already)` : ''}, ${result.unchanged.length} unchanged${held}, ${result.skipped.length} skipped${impossible}, ${result.conflicts.length} conflicts`;
  return { tasks, summary, known, lapsed };
}
