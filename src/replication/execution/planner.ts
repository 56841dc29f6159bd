import { FinalJobFailure, type JobContext } from '../../jobs/queue.js';
import { endExecutionNow, finishExecution } from './finished-event.js';
import {
  databaseNow,
  findExecution,
  insertExecution,
  insertTasks,
  lockPolicyPlanning,
  markPlanned,
  noteExecutionWaiting,
  setExecutionJob,
  setTaskJob,
  startPlanning,
  type ExecutionRow,
} from '../../metadata/replication-executions-table.js';
import {
  forgetSkippedDeletions,
  listSkippedDeletions,
} from '../../metadata/replication-skipped-deletions-table.js';
import { purgeTombstones } from '../../metadata/tombstones-table.js';
import { prepareDestinationProjects } from './destination-projects.js';
import { isRetryable, messageOf } from './failures.js';
import { openWork, workKey } from './open-work.js';
import type { Reconciler } from './reconciler.js';
import { planRun, type RunPlan } from './run-plan.js';
import { sidesOf, tombstoneTtlOf } from './sides.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
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
    await endExecutionNow(deps.db, execution.id, { status: 'Failed', text: message, policy: null });
    throw new FinalJobFailure(message);
  }
  await startPlanning(deps.db, execution.id);
  // Housekeeping on the job service: tombstones past their TTL count as absent already.
  await purgeTombstones(deps.db, new Date(Date.now() - tombstoneTtlOf(deps)));
  const sides = await sidesOf(deps, policy);
  const remoteId = sides.source.registryId ?? sides.destination.registryId;
  let planned: RunPlan;
  // From here, work another run finishes is in neither the open work read below nor (maybe) the
  // sides read after it: the commit counts what succeeded since as taken.
  const planningSince = await databaseNow(deps.db);
  try {
    planned = await planRun({
      policy,
      source: sides.source,
      destination: sides.destination,
      execution,
      deadlineMs,
      tombstoneTtlMs: tombstoneTtlOf(deps),
      // Read before the sides: a task that ends meanwhile shows as done there.
      open: await openWork(deps.db, policy.id),
      skips: await listSkippedDeletions(deps.db, policy.id),
      job,
    });
    await prepareDestinationProjects(planned.tasks, planned.known, sides.source, sides.destination, job);
  } catch (err) {
    if (job.signal.aborted) throw err;
    return await planningFailed({ deps, reconciler, deadlineMs, job, execution, policy, remoteId }, err);
  } finally {
    await sides.close();
  }
  if (job.attempt > 1 && remoteId !== null) {
    await deps.registries.recordHealth(remoteId, true);
    // The peer answers again: what else failed meanwhile converges through one more run.
    if (execution.scope_repository !== null) await reconciler.request(policy.id, 'the peer answers again');
  }
  job.signal.throwIfAborted();
  await commitPlan(deps, job, execution.id, policy.id, planned, planningSince);
  deps.jobs.wake();
  job.log(planned.summary);
  // A plan with nothing to do (or whose tasks all ended already) is finished here.
  await finishExecution(deps.db, execution.id);
}

interface PlanningAttempt {
  deps: ExecutionDeps;
  reconciler: Reconciler;
  deadlineMs: number;
  job: JobContext;
  execution: ExecutionRow;
  policy: ReplicationPolicy;
  remoteId: number | null;
}

/** A failed planning attempt: retried within the deadline (rethrown), else the execution fails. */
async function planningFailed(attempt: PlanningAttempt, err: unknown): Promise<never> {
  const { deps, reconciler, deadlineMs, job, execution, policy, remoteId } = attempt;
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
  // Its replication.finished event tells the policy's project (webhooks' REPLICATION) it failed.
  await endExecutionNow(deps.db, execution.id, { status: 'Failed', text: message, policy });
  // The retry window is over: a fresh run will compare both sides again once the peer is back.
  if (retryable) await reconciler.request(policy.id, `the retry window of execution ${execution.id} ended`);
  // The job's one outcome line, as the execution's status says: failed.
  throw new FinalJobFailure(`planning failed: ${message}${retryable ? '; the retry window is over' : ''}`, {
    cause: err,
  });
}

/** Tasks, their jobs and the planned mark in one transaction. */
async function commitPlan(
  deps: ExecutionDeps,
  job: JobContext,
  executionId: number,
  policyId: number,
  planned: RunPlan,
  planningSince: Date,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    // Runs of one policy may plan at the same moment (after an outage, every retried task asks
    // for a reconciliation). Each planned against the open work it read before listing the sides;
    // under this lock the open work is read again, with what succeeded since this run began
    // planning, and only what nobody has taken meanwhile goes in, so concurrent runs do not copy
    // the same tags twice.
    await lockPolicyPlanning(tx, policyId);
    const open = await openWork(tx, policyId, planningSince);
    const tasks = planned.tasks.filter(
      (t) => !open.has(workKey(t.operation, t.dstRepository, t.tag, t.digest)),
    );
    if (tasks.length < planned.tasks.length)
      job.log(`${planned.tasks.length - tasks.length} planned tasks are already under way`);
    // Impossible deletions whose obstacle is gone are planned again from now on.
    await forgetSkippedDeletions(tx, policyId, planned.lapsed);
    // A crash leaves either a plan whose every task has its job, or no plan at all (and this
    // job runs again).
    const rows = await insertTasks(tx, executionId, tasks);
    for (const task of rows) {
      const row = await deps.jobs.enqueue(TASK_JOB, { taskId: task.id }, { db: tx });
      await setTaskJob(tx, task.id, row.id);
    }
    await markPlanned(tx, executionId, tasks.length, planned.summary);
  });
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
