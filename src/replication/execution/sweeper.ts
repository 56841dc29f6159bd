import type { JobContext } from '../../jobs/queue.js';
import { finishExecutionIfDone } from '../../metadata/replication-executions-table.js';
import {
  closeOrphanedTasks,
  failUnplannedExecutions,
  listFinishableExecutions,
} from '../../metadata/replication-sweep-queries.js';
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

export async function runSweepJob(deps: Pick<ExecutionDeps, 'db' | 'jobs'>, job: JobContext): Promise<void> {
  const tasks = await closeOrphanedTasks(deps.db, GRACE_MS);
  const executions = new Set<number>();
  for (const t of tasks) {
    executions.add(t.execution_id);
    const why = t.job_status === null ? 'its job is gone' : `its job ended (${t.job_status})`;
    job.log(`task ${t.id} of execution ${t.execution_id}: ${why} with the task open; marked ${t.status}`);
    if (t.job_id !== null && t.job_status !== null)
      deps.jobs.note(t.job_id, `closed by the sweeper: ${why}; marked ${t.status}`);
  }
  for (const e of await failUnplannedExecutions(deps.db, GRACE_MS)) {
    job.log(`execution ${e.id} of policy ${e.policy_id}: its planning job ended unplanned; marked Failed`);
  }
  for (const id of await listFinishableExecutions(deps.db)) executions.add(id);
  for (const id of executions) {
    const status = await finishExecutionIfDone(deps.db, id);
    if (status !== null) job.log(`execution ${id} finished: ${status}`);
  }
}
