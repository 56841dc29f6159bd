import type { Queryable } from './database.js';

// SQL of replication executions and tasks (migration 007), and the one read replication needs of
// this registry's own content (tag → digest of a repository) when it plans a run.

export type ExecutionTrigger = 'manual' | 'scheduled' | 'event_based';
export type ExecutionStatus = 'InProgress' | 'Succeed' | 'Failed' | 'Stopped';
export type TaskStatus = 'Pending' | 'InProgress' | 'Succeed' | 'Failed' | 'Stopped';
export type TaskOperation = 'copy' | 'deletion';

export interface ExecutionRow {
  id: number;
  policy_id: number;
  trigger: ExecutionTrigger;
  status: ExecutionStatus;
  status_text: string;
  scope_repository: string | null;
  job_id: number | null;
  planned: boolean;
  total: number;
  start_time: Date;
  end_time: Date | null;
}

/** Per-status task counts of an execution. */
export interface TaskCounts {
  total: number;
  failed: number;
  succeed: number;
  in_progress: number;
  stopped: number;
}

export interface TaskRow {
  id: number;
  execution_id: number;
  resource_type: string;
  operation: TaskOperation;
  status: TaskStatus;
  src_repository: string;
  dst_repository: string;
  tag: string;
  digest: string;
  job_id: number | null;
  deadline: Date;
  start_time: Date | null;
  end_time: Date | null;
}

const EXECUTION_COLUMNS = `id, policy_id, trigger, status, status_text, scope_repository, job_id, planned, total,
  start_time, end_time`;
const TASK_COLUMNS = `id, execution_id, resource_type, operation, status, src_repository, dst_repository, tag,
  digest, job_id, deadline, start_time, end_time`;

export interface NewExecution {
  policyId: number;
  trigger: ExecutionTrigger;
  scopeRepository?: string | null;
  originJobId?: number | null;
  /** A system-requested reconciliation: refused (null) while one already waits for this policy. */
  awaiting?: boolean;
  statusText?: string;
}

/**
 * Inserts an execution; null when an identical one exists already (same origin job, or a
 * reconciliation of this policy that has not started yet). For an origin job, the existing row.
 */
export async function insertExecution(db: Queryable, e: NewExecution): Promise<ExecutionRow | null> {
  const rows = await db.query<ExecutionRow>(
    `INSERT INTO replication_executions (policy_id, trigger, scope_repository, origin_job_id, awaiting, status_text)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT DO NOTHING
     RETURNING ${EXECUTION_COLUMNS}`,
    [
      e.policyId,
      e.trigger,
      e.scopeRepository ?? null,
      e.originJobId ?? null,
      e.awaiting ?? false,
      e.statusText ?? '',
    ],
  );
  if (rows[0]) return rows[0];
  if (e.originJobId === undefined || e.originJobId === null) return null;
  const existing = await db.query<ExecutionRow>(
    `SELECT ${EXECUTION_COLUMNS} FROM replication_executions WHERE policy_id = $1 AND origin_job_id = $2`,
    [e.policyId, e.originJobId],
  );
  return existing[0] ?? null;
}

export async function findExecution(db: Queryable, id: number): Promise<ExecutionRow | null> {
  const rows = await db.query<ExecutionRow>(
    `SELECT ${EXECUTION_COLUMNS} FROM replication_executions WHERE id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export async function setExecutionJob(db: Queryable, id: number, jobId: number): Promise<void> {
  await db.query('UPDATE replication_executions SET job_id = $2 WHERE id = $1', [id, jobId]);
}

/** Planning starts: a later request for a reconciliation must make a new run. */
export async function startPlanning(db: Queryable, id: number): Promise<void> {
  await db.query('UPDATE replication_executions SET awaiting = false WHERE id = $1', [id]);
}

/** Says why a run is not planned yet (its planning job waits to try again), while it is not. */
export async function noteExecutionWaiting(db: Queryable, id: number, statusText: string): Promise<void> {
  await db.query(
    `UPDATE replication_executions SET status_text = $2
     WHERE id = $1 AND status = 'InProgress' AND NOT planned`,
    [id, statusText],
  );
}

export async function markPlanned(
  db: Queryable,
  id: number,
  total: number,
  statusText: string,
): Promise<void> {
  await db.query(
    'UPDATE replication_executions SET planned = true, awaiting = false, total = $2, status_text = $3 WHERE id = $1',
    [id, total, statusText],
  );
}

/** Ends an execution still in progress (planning failed, or stopped). */
export async function endExecution(
  db: Queryable,
  id: number,
  status: Exclude<ExecutionStatus, 'InProgress'>,
  statusText: string,
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE replication_executions SET status = $2, status_text = $3, awaiting = false, end_time = now()
     WHERE id = $1 AND status = 'InProgress' RETURNING id`,
    [id, status, statusText],
  );
  return rows.length > 0;
}

/**
 * Ends a planned execution once no task is open: Failed if a task failed, else Stopped if one was
 * stopped, else Succeed. One statement, so that the last two tasks finishing at once on two
 * instances cannot both miss it. Returns the new status, or null when not finished.
 */
export async function finishExecutionIfDone(db: Queryable, id: number): Promise<ExecutionStatus | null> {
  const rows = await db.query<{ status: ExecutionStatus }>(
    `UPDATE replication_executions e SET
       status = CASE
         WHEN EXISTS (SELECT 1 FROM replication_tasks t WHERE t.execution_id = e.id AND t.status = 'Failed') THEN 'Failed'
         WHEN EXISTS (SELECT 1 FROM replication_tasks t WHERE t.execution_id = e.id AND t.status = 'Stopped') THEN 'Stopped'
         ELSE 'Succeed' END,
       end_time = now()
     WHERE e.id = $1 AND e.status = 'InProgress' AND e.planned
       AND NOT EXISTS (SELECT 1 FROM replication_tasks t
                       WHERE t.execution_id = e.id AND t.status IN ('Pending', 'InProgress'))
     RETURNING e.status`,
    [id],
  );
  return rows[0]?.status ?? null;
}

export interface ExecutionFilter {
  policyId?: number;
  status?: ExecutionStatus;
  trigger?: ExecutionTrigger;
}

export async function listExecutions(
  db: Queryable,
  filter: ExecutionFilter,
  offset: number,
  limit: number,
): Promise<{ items: ExecutionRow[]; total: number }> {
  const where = `WHERE ($1::bigint IS NULL OR policy_id = $1) AND ($2::text IS NULL OR status = $2)
    AND ($3::text IS NULL OR trigger = $3)`;
  const params = [filter.policyId ?? null, filter.status ?? null, filter.trigger ?? null];
  const items = await db.query<ExecutionRow>(
    `SELECT ${EXECUTION_COLUMNS} FROM replication_executions ${where} ORDER BY id DESC LIMIT $4 OFFSET $5`,
    [...params, limit, offset],
  );
  const count = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM replication_executions ${where}`,
    params,
  );
  return { items, total: count[0]?.n ?? 0 };
}

export async function hasRunningExecution(db: Queryable, policyId: number): Promise<boolean> {
  const rows = await db.query(
    `SELECT 1 AS one FROM replication_executions WHERE policy_id = $1 AND status = 'InProgress' LIMIT 1`,
    [policyId],
  );
  return rows.length > 0;
}

/** Task counts of several executions at once (one query for a page of executions). */
export async function taskCounts(db: Queryable, ids: readonly number[]): Promise<Map<number, TaskCounts>> {
  const result = new Map<number, TaskCounts>();
  if (ids.length === 0) return result;
  const rows = await db.query<{ execution_id: number; status: TaskStatus; n: number }>(
    `SELECT execution_id, status, count(*)::int AS n FROM replication_tasks
     WHERE execution_id = ANY($1::bigint[]) GROUP BY execution_id, status`,
    [ids.map(String)],
  );
  for (const id of ids) result.set(id, { total: 0, failed: 0, succeed: 0, in_progress: 0, stopped: 0 });
  for (const r of rows) {
    const c = result.get(r.execution_id);
    if (!c) continue;
    c.total += r.n;
    if (r.status === 'Failed') c.failed += r.n;
    else if (r.status === 'Succeed') c.succeed += r.n;
    else if (r.status === 'Stopped') c.stopped += r.n;
    else c.in_progress += r.n;
  }
  return result;
}

export interface NewTask {
  operation: TaskOperation;
  srcRepository: string;
  dstRepository: string;
  tag: string;
  digest: string;
  deadlineMs: number;
}

/** Inserts the tasks of a plan (again after a crash: existing ones are kept). Returns all the execution's tasks without a job. */
export async function insertTasks(
  db: Queryable,
  executionId: number,
  tasks: readonly NewTask[],
): Promise<TaskRow[]> {
  for (let i = 0; i < tasks.length; i += 500) {
    const batch = tasks.slice(i, i + 500);
    await db.query(
      `INSERT INTO replication_tasks (execution_id, operation, src_repository, dst_repository, tag, digest, deadline)
       SELECT $1, t.op, t.src, t.dst, t.tag, t.digest, now() + t.ms * interval '1 millisecond'
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[])
         AS t(op, src, dst, tag, digest, ms)
       ON CONFLICT DO NOTHING`,
      [
        executionId,
        batch.map((t) => t.operation),
        batch.map((t) => t.srcRepository),
        batch.map((t) => t.dstRepository),
        batch.map((t) => t.tag),
        batch.map((t) => t.digest),
        batch.map((t) => String(t.deadlineMs)),
      ],
    );
  }
  return db.query<TaskRow>(
    `SELECT ${TASK_COLUMNS} FROM replication_tasks WHERE execution_id = $1 AND job_id IS NULL ORDER BY id`,
    [executionId],
  );
}

export async function setTaskJob(db: Queryable, id: number, jobId: number): Promise<void> {
  await db.query('UPDATE replication_tasks SET job_id = $2 WHERE id = $1', [id, jobId]);
}

export async function findTask(db: Queryable, id: number): Promise<TaskRow | null> {
  const rows = await db.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM replication_tasks WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** Moves an open task on; false when it was closed meanwhile (stopped). */
export async function setTaskStatus(db: Queryable, id: number, status: TaskStatus): Promise<boolean> {
  const rows = await db.query(
    `UPDATE replication_tasks SET status = $2::text,
       start_time = CASE WHEN $2::text = 'InProgress' THEN coalesce(start_time, now()) ELSE start_time END,
       end_time = CASE WHEN $2::text IN ('Succeed', 'Failed', 'Stopped') THEN now() ELSE end_time END
     WHERE id = $1 AND status IN ('Pending', 'InProgress') RETURNING id`,
    [id, status],
  );
  return rows.length > 0;
}

/** Stops every open task of an execution; returns the jobs to stop. */
export async function stopOpenTasks(db: Queryable, executionId: number): Promise<number[]> {
  const rows = await db.query<{ job_id: number | null }>(
    `UPDATE replication_tasks SET status = 'Stopped', end_time = now()
     WHERE execution_id = $1 AND status IN ('Pending', 'InProgress') RETURNING job_id`,
    [executionId],
  );
  return rows.flatMap((r) => (r.job_id === null ? [] : [r.job_id]));
}

export async function listTasks(
  db: Queryable,
  executionId: number,
  status: TaskStatus | undefined,
  offset: number,
  limit: number,
): Promise<{ items: TaskRow[]; total: number }> {
  const where = 'WHERE execution_id = $1 AND ($2::text IS NULL OR status = $2)';
  const items = await db.query<TaskRow>(
    `SELECT ${TASK_COLUMNS} FROM replication_tasks ${where} ORDER BY id LIMIT $3 OFFSET $4`,
    [executionId, status ?? null, limit, offset],
  );
  const count = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM replication_tasks ${where}`, [
    executionId,
    status ?? null,
  ]);
  return { items, total: count[0]?.n ?? 0 };
}

/** The open (pending or running) tasks of a policy's running executions. */
/**
 * The open (pending or running) tasks of a policy's runs; with `doneSince`, also its tasks that
 * succeeded since then (database time), whatever their run's status now.
 */
export async function listOpenTasks(
  db: Queryable,
  policyId: number,
  doneSince: Date | null = null,
): Promise<Array<{ operation: TaskOperation; dst_repository: string; tag: string; digest: string }>> {
  return db.query<{ operation: TaskOperation; dst_repository: string; tag: string; digest: string }>(
    `SELECT t.operation, t.dst_repository, t.tag, t.digest
     FROM replication_executions e JOIN replication_tasks t ON t.execution_id = e.id
     WHERE e.policy_id = $1
       AND ((e.status = 'InProgress' AND t.status IN ('Pending', 'InProgress'))
         OR (t.status = 'Succeed' AND t.end_time >= $2::timestamptz))`,
    [policyId, doneSince],
  );
}

/** The database's clock: what task end times are compared with. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const rows = await db.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]?.now ?? new Date();
}

/** First key of the advisory lock that serialises the planning of one policy (the second is its id). */
const PLANNING_LOCK = 72_041;

/** Holds, until the transaction ends, the lock under which one policy's runs plan one at a time. */
export async function lockPolicyPlanning(tx: Queryable, policyId: number): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [PLANNING_LOCK, policyId]);
}
