import type { Queryable } from './database.js';

// SQL of webhook executions (one outbox event for one policy) and tasks (its delivery to one
// target), migration 016. Open tasks of one order key are delivered in event sequence order.

export type WebhookTaskStatus = 'Pending' | 'Running' | 'Success' | 'Error' | 'Stopped';

export interface WebhookTaskRow {
  id: number;
  execution_id: number;
  target_index: number;
  order_key: string;
  event_sequence: number;
  status: WebhookTaskStatus;
  status_message: string;
  run_count: number;
  job_id: number | null;
  creation_time: Date;
  start_time: Date | null;
  update_time: Date;
  end_time: Date | null;
}

export interface WebhookExecutionRow {
  id: number;
  policy_id: number;
  event_id: string;
  event_type: string;
  start_time: Date;
  end_time: Date | null;
  task_count: number;
  success_count: number;
  error_count: number;
  pending_count: number;
  running_count: number;
  stopped_count: number;
  status_message: string;
}

/** What one delivery needs: the task, its execution's event and its policy. */
export interface DeliveryRow extends WebhookTaskRow {
  policy_id: number;
  event_id: string;
  event_type: string;
  event: unknown;
}

const TASK_COLUMNS = `t.id, t.execution_id, t.target_index, t.order_key, t.event_sequence, t.status, t.status_message,
  t.run_count, t.job_id, t.creation_time, t.start_time, t.update_time, t.end_time`;

export interface NewWebhookExecution {
  policyId: number;
  eventId: string;
  eventSequence: number;
  eventType: string;
  event: unknown;
  /** One per target, in target order. */
  orderKeys: readonly string[];
}

/**
 * Inserts an execution and its tasks; an event already recorded for this policy (the dispatcher
 * handing it out again after a crash) inserts nothing. Returns the new tasks' ids.
 */
export async function insertWebhookExecution(db: Queryable, e: NewWebhookExecution): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `WITH ex AS (
       INSERT INTO webhook_executions (policy_id, event_id, event_sequence, event_type, event)
       VALUES ($1, $2::uuid, $3, $4, $5::jsonb) ON CONFLICT (policy_id, event_id) DO NOTHING RETURNING id)
     INSERT INTO webhook_tasks (execution_id, target_index, order_key, event_sequence)
     SELECT ex.id, k.n - 1, k.key, $3 FROM ex, unnest($6::text[]) WITH ORDINALITY AS k(key, n)
     RETURNING id`,
    [e.policyId, e.eventId, e.eventSequence, e.eventType, JSON.stringify(e.event), e.orderKeys],
  );
  return rows.map((r) => r.id);
}

export async function findDelivery(db: Queryable, taskId: number): Promise<DeliveryRow | null> {
  const rows = await db.query<DeliveryRow>(
    `SELECT ${TASK_COLUMNS}, e.policy_id, e.event_id::text AS event_id, e.event_type, e.event
     FROM webhook_tasks t JOIN webhook_executions e ON e.id = t.execution_id WHERE t.id = $1`,
    [taskId],
  );
  return rows[0] ?? null;
}

/** The oldest open task of the key before this one (it must end before this one goes out). */
export async function openTaskBefore(db: Queryable, task: WebhookTaskRow): Promise<number | null> {
  const rows = await db.query<{ id: number }>(
    `SELECT id FROM webhook_tasks
     WHERE order_key = $1 AND status IN ('Pending', 'Running') AND (event_sequence, id) < ($2, $3)
     ORDER BY event_sequence, id LIMIT 1`,
    [task.order_key, task.event_sequence, task.id],
  );
  return rows[0]?.id ?? null;
}

/** The oldest open task of a key, to be started when the one before it ends. */
export async function firstOpenTask(db: Queryable, orderKey: string): Promise<number | null> {
  const rows = await db.query<{ id: number }>(
    `SELECT id FROM webhook_tasks WHERE order_key = $1 AND status IN ('Pending', 'Running')
     ORDER BY event_sequence, id LIMIT 1`,
    [orderKey],
  );
  return rows[0]?.id ?? null;
}

/**
 * Starts an attempt: the task becomes Running for this job and its run count grows. Null when
 * the task ended already or another job holds it (a duplicate job for one task sends nothing).
 */
export async function startAttempt(
  db: Queryable,
  taskId: number,
  jobId: number,
): Promise<WebhookTaskRow | null> {
  const rows = await db.query<WebhookTaskRow>(
    `UPDATE webhook_tasks t SET status = 'Running', run_count = run_count + 1, job_id = $2,
       start_time = COALESCE(start_time, now()), update_time = now()
     WHERE t.id = $1 AND (t.status = 'Pending' OR (t.status = 'Running' AND t.job_id = $2))
     RETURNING ${TASK_COLUMNS}`,
    [taskId, jobId],
  );
  return rows[0] ?? null;
}

/** Records a failed attempt that will be retried, with a line for the task's log. */
export async function noteFailedAttempt(db: Queryable, taskId: number, message: string, line: string) {
  await db.query(
    `UPDATE webhook_tasks SET status_message = $2, log = log || $3, update_time = now() WHERE id = $1`,
    [taskId, message, `${line}\n`],
  );
}

/** Ends a task (delivered, or failed for good) with a line for its log. */
export async function endTask(
  db: Queryable,
  taskId: number,
  status: 'Success' | 'Error',
  message: string,
  line: string,
): Promise<void> {
  await db.query(
    `UPDATE webhook_tasks SET status = $2, status_message = $3, log = log || $4, update_time = now(),
       end_time = now()
     WHERE id = $1 AND status IN ('Pending', 'Running')`,
    [taskId, status, message, `${line}\n`],
  );
}

/**
 * Deletes a policy's ended executions (every task ended) beyond the newest `keep` ended ones,
 * with their tasks and logs; executions still delivering are never touched.
 */
export async function pruneEndedExecutions(db: Queryable, policyId: number, keep: number): Promise<void> {
  await db.query(
    `DELETE FROM webhook_executions WHERE id IN (
       SELECT e.id FROM webhook_executions e
       WHERE e.policy_id = $1
         AND NOT EXISTS (SELECT 1 FROM webhook_tasks t WHERE t.execution_id = e.id AND t.end_time IS NULL)
       ORDER BY e.id DESC OFFSET $2)`,
    [policyId, keep],
  );
}

const EXECUTION_SELECT = `SELECT e.id, e.policy_id, e.event_id::text AS event_id, e.event_type, e.start_time,
    CASE WHEN bool_and(t.end_time IS NOT NULL) THEN max(t.end_time) END AS end_time,
    count(t.id)::int AS task_count,
    (count(t.id) FILTER (WHERE t.status = 'Success'))::int AS success_count,
    (count(t.id) FILTER (WHERE t.status = 'Error'))::int AS error_count,
    (count(t.id) FILTER (WHERE t.status = 'Pending'))::int AS pending_count,
    (count(t.id) FILTER (WHERE t.status = 'Running'))::int AS running_count,
    (count(t.id) FILTER (WHERE t.status = 'Stopped'))::int AS stopped_count,
    COALESCE(string_agg(NULLIF(t.status_message, ''), '; ' ORDER BY t.id) FILTER (WHERE t.status = 'Error'), '')
      AS status_message
  FROM webhook_executions e LEFT JOIN webhook_tasks t ON t.execution_id = e.id`;

export async function listWebhookExecutions(
  db: Queryable,
  policyId: number,
  offset: number,
  limit: number,
): Promise<{ items: WebhookExecutionRow[]; total: number }> {
  const items = await db.query<WebhookExecutionRow>(
    `${EXECUTION_SELECT} WHERE e.policy_id = $1 GROUP BY e.id ORDER BY e.id DESC LIMIT $2 OFFSET $3`,
    [policyId, limit, offset],
  );
  const count = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM webhook_executions WHERE policy_id = $1',
    [policyId],
  );
  return { items, total: count[0]?.n ?? 0 };
}

export async function findWebhookExecution(
  db: Queryable,
  policyId: number,
  id: number,
): Promise<WebhookExecutionRow | null> {
  const rows = await db.query<WebhookExecutionRow>(
    `${EXECUTION_SELECT} WHERE e.policy_id = $1 AND e.id = $2 GROUP BY e.id`,
    [policyId, id],
  );
  return rows[0] ?? null;
}

export async function listWebhookTasks(
  db: Queryable,
  executionId: number,
  offset: number,
  limit: number,
): Promise<{ items: WebhookTaskRow[]; total: number }> {
  const items = await db.query<WebhookTaskRow>(
    `SELECT ${TASK_COLUMNS} FROM webhook_tasks t WHERE t.execution_id = $1 ORDER BY t.id LIMIT $2 OFFSET $3`,
    [executionId, limit, offset],
  );
  const count = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM webhook_tasks WHERE execution_id = $1',
    [executionId],
  );
  return { items, total: count[0]?.n ?? 0 };
}

export async function webhookTaskLog(
  db: Queryable,
  executionId: number,
  taskId: number,
): Promise<string | null> {
  const rows = await db.query<{ log: string }>(
    'SELECT log FROM webhook_tasks WHERE id = $1 AND execution_id = $2',
    [taskId, executionId],
  );
  return rows[0]?.log ?? null;
}

/** When each policy of a project last started a delivery. */
export async function lastWebhookTriggers(
  db: Queryable,
  projectId: number,
): Promise<Array<{ policy_id: number; last_trigger_time: Date | null }>> {
  return db.query(
    `SELECT w.id AS policy_id, (SELECT max(e.start_time) FROM webhook_executions e WHERE e.policy_id = w.id)
       AS last_trigger_time
     FROM webhook_policies w WHERE w.project_id = $1 ORDER BY w.id`,
    [projectId],
  );
}
