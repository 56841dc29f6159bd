import { FinalJobFailure, type JobContext } from '../../jobs/queue.js';
import { finishExecution } from './finished-event.js';
import {
  findExecution,
  findTask,
  setTaskStatus,
  type TaskRow,
} from '../../metadata/replication-executions-table.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import { isRetryable, messageOf } from './failures.js';
import { performCopy } from './copy-task.js';
import { performDeletion } from './deletion-task.js';
import type { Reconciler } from './reconciler.js';
import { sidesOf, tombstoneTtlOf, type Side } from './sides.js';
import type { ExecutionDeps, TaskPayload } from './types.js';

// The replication-task job: one copy or one tag deletion. A retryable failure (the peer
// unreachable) is thrown, so the job service retries it with backoff, until the task's deadline
// (the policy's retry window); never dropped after a few tries. Any other failure ends the task
// at once. A stop aborts the signal: the copy engine stops its streams and the task (already
// marked Stopped by the stop request) is left alone.
//
// The log says each outcome once, and as the task's status says it: the job service writes the
// line of a failed attempt (with its retry) and the final "succeeded", or the task's own outcome
// line ("skipped: ..."); a task marked Failed ends its job with FinalJobFailure, so its log ends
// with "failed: ..." and never with "succeeded".

export async function runTaskJob(
  deps: ExecutionDeps,
  reconciler: Reconciler,
  job: JobContext,
): Promise<string | void> {
  const { taskId } = job.payload as TaskPayload;
  const task = await findTask(deps.db, taskId);
  if (!task) return `skipped: task ${taskId} no longer exists`;
  if (task.status !== 'Pending' && task.status !== 'InProgress') {
    return `skipped: task ${task.id} is ${task.status} already`;
  }
  const execution = await findExecution(deps.db, task.execution_id);
  const policy = execution ? await deps.policies.byId(execution.policy_id) : null;
  if (!execution || execution.status !== 'InProgress' || !policy) {
    await setTaskStatus(deps.db, task.id, policy ? 'Stopped' : 'Failed');
    await finishExecution(deps.db, task.execution_id);
    if (!policy) throw new FinalJobFailure('the policy no longer exists');
    return 'stopped: the execution is over';
  }
  if (!(await setTaskStatus(deps.db, task.id, 'InProgress'))) {
    return `skipped: task ${task.id} was stopped`;
  }
  const sides = await sidesOf(deps, policy);
  const remoteId = sides.source.registryId ?? sides.destination.registryId;
  let outcome: string | void;
  try {
    outcome = await perform(deps, task, policy, sides.source, sides.destination, job);
  } catch (err) {
    if (job.signal.aborted) throw err;
    const message = messageOf(err);
    const retryable = isRetryable(err);
    if (retryable && remoteId !== null) await deps.registries.recordHealth(remoteId, false);
    // The job service logs this attempt's failure and when the next one comes.
    if (retryable && Date.now() < task.deadline.getTime()) throw err;
    await setTaskStatus(deps.db, task.id, 'Failed');
    await finishExecution(deps.db, task.execution_id);
    if (retryable) await reconciler.request(policy.id, `the retry window of task ${task.id} ended`);
    throw new FinalJobFailure(retryable ? `${message}; the retry window is over` : message, { cause: err });
  } finally {
    await sides.close();
  }
  await setTaskStatus(deps.db, task.id, 'Succeed');
  await finishExecution(deps.db, task.execution_id);
  if (job.attempt > 1 && remoteId !== null) {
    // Earlier attempts failed and this one got through: the peer is back. One reconciliation
    // run (deduplicated) brings over whatever else was missed while it was away.
    await deps.registries.recordHealth(remoteId, true);
    await reconciler.request(policy.id, 'the peer answers again');
  }
  return outcome;
}

async function perform(
  deps: ExecutionDeps,
  task: TaskRow,
  policy: ReplicationPolicy,
  source: Side,
  destination: Side,
  job: JobContext,
): Promise<string | void> {
  const work = { task, policy, source, destination, job, tombstoneTtlMs: tombstoneTtlOf(deps) };
  if (task.operation === 'copy') return performCopy(deps, work);
  return performDeletion(deps, work);
}
