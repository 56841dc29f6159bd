import type { Queryable } from './database.js';

// SQL of retention executions and their tasks (migration 022), in Harbor's task vocabulary:
// an execution is Running until its last task ends; a task is Pending, Running, Success, Error or
// Stopped. Every status change is conditional on the row still being open, so a stop racing a
// task's end, or a task run again after a crash, never moves a finished row.

export type RetentionTrigger = 'MANUAL' | 'SCHEDULE';
export type RetentionExecutionStatus = 'Running' | 'Success' | 'Error' | 'Stopped';
export type RetentionTaskStatus = 'Pending' | 'Running' | 'Success' | 'Error' | 'Stopped';

export interface RetentionExecutionRow {
  id: number;
  policy_id: number;
  trigger: RetentionTrigger;
  dry_run: boolean;
  status: RetentionExecutionStatus;
  start_time: Date;
  end_time: Date | null;
}

/** What one task removed (or, dry, would remove). */
export interface RetentionDeletion {
  repository: string;
  digest: string;
  tags: string[];
}

export interface RetentionTaskRow {
  id: number;
  execution_id: number;
  repository: string;
  job_id: number | null;
  status: RetentionTaskStatus;
  total: number;
  retained: number;
  deleted: RetentionDeletion[];
  start_time: Date | null;
  end_time: Date | null;
}

const EXECUTION_COLUMNS = 'id, policy_id, trigger, dry_run, status, start_time, end_time';
const TASK_COLUMNS =
  'id, execution_id, repository, job_id, status, total, retained, deleted, start_time, end_time';

/** Inserts an execution; for a schedule's job, the one that job made already if any. */
export async function insertRetentionExecution(
  db: Queryable,
  e: { policyId: number; trigger: RetentionTrigger; dryRun: boolean; originJobId?: number },
): Promise<{ row: RetentionExecutionRow; created: boolean }> {
  const rows = await db.query<RetentionExecutionRow>(
    `INSERT INTO retention_executions (policy_id, trigger, dry_run, origin_job_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING RETURNING ${EXECUTION_COLUMNS}`,
    [e.policyId, e.trigger, e.dryRun, e.originJobId ?? null],
  );
  if (rows[0]) return { row: rows[0], created: true };
  const existing = await db.query<RetentionExecutionRow>(
    `SELECT ${EXECUTION_COLUMNS} FROM retention_executions WHERE origin_job_id = $1`,
    [e.originJobId ?? null],
  );
  if (!existing[0]) throw new Error('retention execution neither inserted nor found');
  return { row: existing[0], created: false };
}

export async function insertRetentionTask(
  db: Queryable,
  executionId: number,
  repository: string,
): Promise<RetentionTaskRow> {
  const rows = await db.query<RetentionTaskRow>(
    `INSERT INTO retention_tasks (execution_id, repository) VALUES ($1, $2) RETURNING ${TASK_COLUMNS}`,
    [executionId, repository],
  );
  return rows[0] as RetentionTaskRow;
}

export async function setRetentionTaskJob(db: Queryable, taskId: number, jobId: number): Promise<void> {
  await db.query('UPDATE retention_tasks SET job_id = $2 WHERE id = $1', [taskId, jobId]);
}

export async function findRetentionExecution(
  db: Queryable,
  id: number,
): Promise<RetentionExecutionRow | null> {
  const rows = await db.query<RetentionExecutionRow>(
    `SELECT ${EXECUTION_COLUMNS} FROM retention_executions WHERE id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export async function listRetentionExecutions(
  db: Queryable,
  policyId: number,
  offset: number,
  limit: number,
): Promise<{ items: RetentionExecutionRow[]; total: number }> {
  const total = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM retention_executions WHERE policy_id = $1',
    [policyId],
  );
  const items = await db.query<RetentionExecutionRow>(
    `SELECT ${EXECUTION_COLUMNS} FROM retention_executions WHERE policy_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`,
    [policyId, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

export async function findRetentionTask(db: Queryable, id: number): Promise<RetentionTaskRow | null> {
  const rows = await db.query<RetentionTaskRow>(`SELECT ${TASK_COLUMNS} FROM retention_tasks WHERE id = $1`, [
    id,
  ]);
  return rows[0] ?? null;
}

export async function listRetentionTasks(
  db: Queryable,
  executionId: number,
  offset: number,
  limit: number,
): Promise<{ items: RetentionTaskRow[]; total: number }> {
  const total = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM retention_tasks WHERE execution_id = $1',
    [executionId],
  );
  const items = await db.query<RetentionTaskRow>(
    `SELECT ${TASK_COLUMNS} FROM retention_tasks WHERE execution_id = $1 ORDER BY id LIMIT $2 OFFSET $3`,
    [executionId, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

/** The open tasks of an execution (to stop them). */
export async function openRetentionTasks(db: Queryable, executionId: number): Promise<RetentionTaskRow[]> {
  return db.query<RetentionTaskRow>(
    `SELECT ${TASK_COLUMNS} FROM retention_tasks WHERE execution_id = $1 AND status IN ('Pending', 'Running')`,
    [executionId],
  );
}

/** Pending or Running (a run again after a crash) to Running; false when the task has ended. */
export async function startRetentionTask(db: Queryable, id: number): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    `UPDATE retention_tasks SET status = 'Running', start_time = COALESCE(start_time, now())
     WHERE id = $1 AND status IN ('Pending', 'Running') RETURNING id`,
    [id],
  );
  return rows.length > 0;
}

/** Ends an open task with its outcome; false when it had ended already (stopped meanwhile). */
export async function finishRetentionTask(
  db: Queryable,
  id: number,
  outcome: {
    status: 'Success' | 'Error' | 'Stopped';
    total?: number;
    retained?: number;
    deleted?: RetentionDeletion[];
  },
): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    `UPDATE retention_tasks SET status = $2, total = COALESCE($3, total), retained = COALESCE($4, retained),
       deleted = COALESCE($5::jsonb, deleted), end_time = now()
     WHERE id = $1 AND status IN ('Pending', 'Running') RETURNING id`,
    [
      id,
      outcome.status,
      outcome.total ?? null,
      outcome.retained ?? null,
      outcome.deleted ? JSON.stringify(outcome.deleted) : null,
    ],
  );
  return rows.length > 0;
}

/**
 * Ends a Running execution whose tasks have all ended: Stopped if any task was stopped, else
 * Error if any failed, else Success. Returns the ended row, or null (still open, or ended before).
 * Locks the execution row so that two tasks ending together cannot both end it.
 */
export async function finishRetentionExecutionIfDone(
  tx: Queryable,
  id: number,
): Promise<RetentionExecutionRow | null> {
  const locked = await tx.query<{ status: string }>(
    'SELECT status FROM retention_executions WHERE id = $1 FOR UPDATE',
    [id],
  );
  if (locked[0]?.status !== 'Running') return null;
  const counts = await tx.query<{ open: number; stopped: number; failed: number }>(
    `SELECT count(*) FILTER (WHERE status IN ('Pending', 'Running'))::int AS open,
            count(*) FILTER (WHERE status = 'Stopped')::int AS stopped,
            count(*) FILTER (WHERE status = 'Error')::int AS failed
     FROM retention_tasks WHERE execution_id = $1`,
    [id],
  );
  const c = counts[0] ?? { open: 0, stopped: 0, failed: 0 };
  if (c.open > 0) return null;
  const status: RetentionExecutionStatus = c.stopped > 0 ? 'Stopped' : c.failed > 0 ? 'Error' : 'Success';
  const rows = await tx.query<RetentionExecutionRow>(
    `UPDATE retention_executions SET status = $2, end_time = now() WHERE id = $1 RETURNING ${EXECUTION_COLUMNS}`,
    [id, status],
  );
  return rows[0] ?? null;
}

/** Every task of an execution (for its event), in order. */
export async function tasksOfExecution(db: Queryable, executionId: number): Promise<RetentionTaskRow[]> {
  return db.query<RetentionTaskRow>(
    `SELECT ${TASK_COLUMNS} FROM retention_tasks WHERE execution_id = $1 ORDER BY id`,
    [executionId],
  );
}
