import type { JobContext } from '../../jobs/queue.js';
import {
  findExecution,
  findTask,
  finishExecutionIfDone,
  setTaskStatus,
  type TaskRow,
} from '../../metadata/replication-executions-table.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import { isRetryable, messageOf } from './failures.js';
import { performCopy, sideRecords } from './copy-task.js';
import { deleteTag } from './tag-deletion.js';
import type { Reconciler } from './reconciler.js';
import { checkDeletion } from './two-way.js';
import { sidesOf, tombstoneTtlOf, type Side } from './sides.js';
import type { ExecutionDeps, TaskPayload } from './types.js';

// The replication-task job: one copy or one tag deletion. A retryable failure (the peer
// unreachable) is thrown, so the job service retries it with backoff, until the task's deadline
// (the policy's retry window); never dropped after a few tries. Any other failure ends the task
// at once, with the message in its log. A stop aborts the signal: the copy engine stops its
// streams and the task (already marked Stopped by the stop request) is left alone.

export async function runTaskJob(
  deps: ExecutionDeps,
  reconciler: Reconciler,
  job: JobContext,
): Promise<void> {
  const { taskId } = job.payload as TaskPayload;
  const task = await findTask(deps.db, taskId);
  if (!task || (task.status !== 'Pending' && task.status !== 'InProgress')) return;
  const execution = await findExecution(deps.db, task.execution_id);
  const policy = execution ? await deps.policies.byId(execution.policy_id) : null;
  if (!execution || execution.status !== 'InProgress' || !policy) {
    job.log(policy ? 'the execution is over: task stopped' : 'the policy no longer exists');
    await setTaskStatus(deps.db, task.id, policy ? 'Stopped' : 'Failed');
    await finishExecutionIfDone(deps.db, task.execution_id);
    return;
  }
  if (!(await setTaskStatus(deps.db, task.id, 'InProgress'))) return;
  const sides = await sidesOf(deps, policy);
  const remoteId = sides.source.registryId ?? sides.destination.registryId;
  try {
    await perform(deps, task, policy, sides.source, sides.destination, job);
  } catch (err) {
    if (job.signal.aborted) throw err;
    const message = messageOf(err);
    const retryable = isRetryable(err);
    if (retryable && remoteId !== null) await deps.registries.recordHealth(remoteId, false);
    if (retryable && Date.now() < task.deadline.getTime()) {
      job.log(`attempt ${job.attempt} failed, to be retried: ${message}`);
      throw err;
    }
    job.log(retryable ? `failed: ${message}; the retry window is over` : `failed: ${message}`);
    await setTaskStatus(deps.db, task.id, 'Failed');
    await finishExecutionIfDone(deps.db, task.execution_id);
    if (retryable) await reconciler.request(policy.id, `the retry window of task ${task.id} ended`);
    return;
  } finally {
    await sides.close();
  }
  await setTaskStatus(deps.db, task.id, 'Succeed');
  await finishExecutionIfDone(deps.db, task.execution_id);
  if (job.attempt > 1 && remoteId !== null) {
    // Earlier attempts failed and this one got through: the peer is back. One reconciliation
    // run (deduplicated) brings over whatever else was missed while it was away.
    await deps.registries.recordHealth(remoteId, true);
    await reconciler.request(policy.id, 'the peer answers again');
  }
}

async function perform(
  deps: ExecutionDeps,
  task: TaskRow,
  policy: ReplicationPolicy,
  source: Side,
  destination: Side,
  job: JobContext,
): Promise<void> {
  const { signal } = job;
  if (task.operation === 'copy') {
    await performCopy(deps, task, policy, source, destination, job, tombstoneTtlOf(deps));
    return;
  }
  if (!policy.replicateDeletion) {
    job.log('replicate_deletion is off: nothing deleted');
    return;
  }
  // The tag may have come back at the source since the plan: then it must stay.
  const src = await source.client([task.src_repository]);
  if (await src.headManifest(task.src_repository, task.tag, signal)) {
    job.log(`${task.src_repository}:${task.tag} exists at the source again: not deleted`);
    return;
  }
  if (!(await deletionStillWins(task, source, destination, job, tombstoneTtlOf(deps)))) return;
  const dst = await destination.client([task.dst_repository]);
  const deleted = await deleteTag(dst, task.dst_repository, task.tag, (line) => job.log(line), signal);
  job.log(
    deleted
      ? `deleted tag ${task.dst_repository}:${task.tag}`
      : `${task.dst_repository}:${task.tag} was gone already`,
  );
  await recordDeletion(task, source, destination, job);
}

/**
 * Two-way sides: the deletion here must still win at the destination right before it is made.
 * A version pushed there after the deletion here stays (as planning would decide now).
 */
async function deletionStillWins(
  task: TaskRow,
  source: Side,
  destination: Side,
  job: JobContext,
  tombstoneTtlMs: number,
): Promise<boolean> {
  if (!source.tellsPushTimes || !destination.tellsPushTimes) return true;
  const here = await source.tagRecords(task.src_repository, job.signal);
  if (!here.pushTimes) return true;
  const there = await destination.tagRecords(task.dst_repository, job.signal);
  if (!there.pushTimes) return true;
  const check = checkDeletion(task.tag, sideRecords(here), sideRecords(there), {
    now: Date.now(),
    ttlMs: tombstoneTtlMs,
  });
  if (!check.copy) job.log(`not deleted: ${check.reason ?? 'the destination wins'}`);
  return check.copy;
}

// After a deletion, the destination learns the source's deletion time (a copy's origin push time
// goes with its tag: copy-task.ts). Best effort: a peer without the Wharf extension (Harbor)
// simply keeps its own times, and a failure here does not undo the deletion.

async function recordDeletion(
  task: TaskRow,
  source: Side,
  destination: Side,
  job: JobContext,
): Promise<void> {
  try {
    const tombstone = (await source.tagRecords(task.src_repository, job.signal)).tombstones?.get(task.tag);
    if (!tombstone) return;
    const recorded = await destination.recordDeletion(
      {
        repository: task.dst_repository,
        tag: task.tag,
        digest: tombstone.digest,
        deletedAt: tombstone.deletedAt,
      },
      job.signal,
    );
    if (recorded)
      job.log(
        `origin deletion time ${new Date(tombstone.deletedAt).toISOString()} recorded at the destination`,
      );
  } catch (err) {
    job.log(`the origin deletion time was not recorded: ${messageOf(err)}`);
  }
}
