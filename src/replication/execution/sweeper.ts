import type { JobContext } from '../../jobs/queue.js';
import { finishExecution } from './finished-event.js';
import {
  closeOrphanedTasks,
  failUnplannedExecutions,
  listFinishableExecutions,
} from '../../metadata/replication-sweep-queries.js';
import type { Reconciler } from './reconciler.js';
import type { ExecutionDeps } from './types.js';

// The replication sweeper: a job-service schedule (once per cluster, every minute) that closes
// what a job left open when it ended without closing its own rows: a task whose job failed
// for good or was stopped outside the execution's stop, an unplanned execution whose planning
// job ended, a planned execution whose last task was closed without finishing it. Harbor's
// "task stuck in progress forever" cannot outlive a minute here. The task's job log says why.

export const SWEEP_JOB = 'replication-sweep';
/** Every minute, at second 17 (away from the minute's other schedules). */
export const SWEEP_CRON = '17 * * * * *';
/** Rows whose job has no row are only touched once their execution is this old. */
const GRACE_MS = 5 * 60_000;

export async function runSweepJob(
  deps: Pick<ExecutionDeps, 'db' | 'jobs'>,
  reconciler: Pick<Reconciler, 'request'>,
  job: JobContext,
): Promise<void> {
  const tasks = await closeOrphanedTasks(deps.db, GRACE_MS);
  const executions = new Set<number>();
  const policies = new Set<number>();
  for (const t of tasks) {
    executions.add(t.execution_id);
    const why = t.job_status === null ? 'its job is gone' : `its job ended (${t.job_status})`;
    job.log(`task ${t.id} of execution ${t.execution_id}: ${why} with the task open; marked ${t.status}`);
    if (t.status === 'Failed') policies.add(t.policy_id);
    if (t.job_id !== null && t.job_status !== null)
      deps.jobs.note(t.job_id, `closed by the sweeper: ${why}; marked ${t.status}`);
  }
  for (const e of await failUnplannedExecutions(deps.db, GRACE_MS)) {
    job.log(`execution ${e.id} of policy ${e.policy_id}: its planning job ended unplanned; marked Failed`);
    policies.add(e.policy_id);
  }
  for (const id of await listFinishableExecutions(deps.db)) executions.add(id);
  for (const id of executions) {
    const status = await finishExecution(deps.db, id);
    if (status !== null) job.log(`execution ${id} finished: ${status}`);
  }
  // What those runs did not do converges through one more reconciliation of each policy, as
  // when a retry window ends (deduplicated: at most one waits per policy).
  for (const policyId of policies) {
    const id = await reconciler.request(policyId, 'the sweeper closed unfinished work');
    if (id !== null) job.log(`reconciliation ${id} of policy ${policyId} queued`);
  }
}
