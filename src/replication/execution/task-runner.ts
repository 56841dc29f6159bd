import type { JobContext } from '../../jobs/queue.js';
import {
  findExecution,
  findTask,
  finishExecutionIfDone,
  setTaskStatus,
  type TaskRow,
} from '../../metadata/replication-executions-table.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import { copyArtifact } from '../copy/index.js';
import { isRetryable, messageOf } from './failures.js';
import { mountCandidatesFor } from './mount-candidates.js';
import { deleteTag } from './tag-deletion.js';
import type { Reconciler } from './reconciler.js';
import { sidesOf, type Side } from './sides.js';
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
    const mountCandidates = mountCandidatesFor(
      deps.db,
      policy,
      { sourceIsLocal: source.registryId === null, destinationIsLocal: destination.registryId === null },
      task.dst_repository,
    );
    const result = await copyArtifact({
      source: {
        registry: await source.client([task.src_repository]),
        repository: task.src_repository,
        // By tag, not by the planned digest: a task delayed by retries must not move the tag
        // back to what it was when planned.
        reference: task.tag,
      },
      destination: {
        registry: await destination.client([task.dst_repository]),
        repository: task.dst_repository,
        tag: task.tag,
      },
      options: {
        speedKbps: policy.speed,
        override: policy.override,
        byChunk: policy.copyByChunk,
        ...(mountCandidates && { mountCandidates }),
        signal,
        log: (line) => job.log(line),
      },
    });
    if (result.tagSkipped) {
      job.log(`${task.dst_repository}:${task.tag} differs at the destination; override is off`);
      return;
    }
    await recordOrigin(task, result.digest, source, destination, job);
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
  const dst = await destination.client([task.dst_repository]);
  const deleted = await deleteTag(dst, task.dst_repository, task.tag, (line) => job.log(line), signal);
  job.log(
    deleted
      ? `deleted tag ${task.dst_repository}:${task.tag}`
      : `${task.dst_repository}:${task.tag} was gone already`,
  );
  await recordDeletion(task, source, destination, job);
}

// After the work, the destination learns the origin's times: a copied tag keeps the push time it
// has at the source (not the time of the copy, which would win conflicts it must lose and make
// the copy look new to the peer's own policies), and a replicated deletion keeps the source's
// deletion time. Best effort: a peer without the Wharf extension (Harbor) simply keeps its own
// times, and a failure here does not undo the copy or the deletion.

async function recordOrigin(
  task: TaskRow,
  digest: string,
  source: Side,
  destination: Side,
  job: JobContext,
): Promise<void> {
  try {
    const records = await source.tagRecords(task.src_repository, job.signal);
    const pushedAt = records.pushTimes?.get(task.tag);
    if (pushedAt === undefined || records.digests.get(task.tag) !== digest) return;
    const recorded = await destination.recordOrigin(
      { repository: task.dst_repository, tag: task.tag, digest, pushedAt, origin: source.name },
      job.signal,
    );
    if (recorded) job.log(`origin push time ${new Date(pushedAt).toISOString()} recorded at the destination`);
  } catch (err) {
    job.log(`the origin push time was not recorded: ${messageOf(err)}`);
  }
}

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
