import type { Queryable } from './database.js';

// What the replication sweeper (replication/execution/sweeper.ts) closes: tasks and executions
// left open although the job that should close them has ended. A handler closes its own rows in
// the normal course; these catch the rest (a handler that threw past its retries, a job stopped
// or purged by other means), so no execution stays "InProgress" forever.

/** Job statuses after which a job never runs again. */
const FINAL = `('succeeded', 'error', 'stopped')`;

export interface SweptTask {
  id: number;
  execution_id: number;
  policy_id: number;
  job_id: number | null;
  status: 'Failed' | 'Stopped';
  job_status: string | null;
}

/**
 * Closes open tasks whose job is final or gone (Stopped when the job was stopped, else Failed).
 * `graceMs`: a task whose job has no row is only closed once it is this old, so that nothing
 * racing its own creation is touched.
 */
export async function closeOrphanedTasks(
  db: Queryable,
  graceMs: number,
  limit = 1_000,
): Promise<SweptTask[]> {
  return db.query<SweptTask>(
    `WITH orphaned AS (
       SELECT t.id, e.policy_id, j.status AS job_status
         FROM replication_tasks t
         JOIN replication_executions e ON e.id = t.execution_id
         LEFT JOIN jobs j ON j.id = t.job_id
        WHERE t.status IN ('Pending', 'InProgress')
          AND (j.status IN ${FINAL}
               OR (j.id IS NULL AND e.start_time < now() - $1::float8 * interval '1 millisecond'))
        ORDER BY t.id
        LIMIT $2
        FOR UPDATE OF t SKIP LOCKED)
     UPDATE replication_tasks t
        SET status = CASE WHEN o.job_status = 'stopped' THEN 'Stopped' ELSE 'Failed' END,
            end_time = now()
       FROM orphaned o
      WHERE t.id = o.id AND t.status IN ('Pending', 'InProgress')
     RETURNING t.id, t.execution_id, o.policy_id, t.job_id, t.status, o.job_status`,
    [graceMs, limit],
  );
}

export interface SweptExecution {
  id: number;
  policy_id: number;
  job_status: string | null;
}

/** Fails unplanned executions whose planning job is final or gone (after `graceMs`). */
export async function failUnplannedExecutions(db: Queryable, graceMs: number): Promise<SweptExecution[]> {
  return db.query<SweptExecution>(
    `WITH orphaned AS (
       SELECT e.id, j.status AS job_status
         FROM replication_executions e
         LEFT JOIN jobs j ON j.id = coalesce(e.job_id, e.origin_job_id)
        WHERE e.status = 'InProgress' AND NOT e.planned
          AND (j.status IN ${FINAL}
               OR (j.id IS NULL AND e.start_time < now() - $1::float8 * interval '1 millisecond'))
        FOR UPDATE OF e SKIP LOCKED)
     UPDATE replication_executions e
        SET status = 'Failed', awaiting = false, end_time = now(),
            status_text = 'the planning job ended without planning ('
                          || coalesce(o.job_status, 'its job is gone') || ')'
       FROM orphaned o
      WHERE e.id = o.id AND e.status = 'InProgress'
     RETURNING e.id, e.policy_id, o.job_status`,
    [graceMs],
  );
}

/** Planned executions still InProgress although none of their tasks is open. */
export async function listFinishableExecutions(db: Queryable, limit = 1_000): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `SELECT e.id FROM replication_executions e
      WHERE e.status = 'InProgress' AND e.planned
        AND NOT EXISTS (SELECT 1 FROM replication_tasks t
                         WHERE t.execution_id = e.id AND t.status IN ('Pending', 'InProgress'))
      ORDER BY e.id LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}
