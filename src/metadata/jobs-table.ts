import type { Queryable } from './database.js';

// SQL of the job service's tables (migration 004): jobs, job_logs, job_queues, job_pools.
// A claim is fenced by (lease_owner, attempts): whatever an instance does to a job it claimed
// (renew, finish, fail, release) applies only while that claim is still the job's current one,
// so an instance that lost its lease (paused too long, taken over) cannot overwrite the new run.

export type JobStatus = 'pending' | 'running' | 'succeeded' | 'error' | 'stopped';

export interface JobRow {
  id: number;
  type: string;
  payload: unknown;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  deadline: Date | null;
  run_at: Date;
  lease_owner: string | null;
  lease_until: Date | null;
  stop_requested: boolean;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const JOB_COLUMNS = `id, type, payload, status, attempts, max_attempts, deadline, run_at, lease_owner,
  lease_until, stop_requested, last_error, created_at, updated_at, started_at, finished_at`;

/** A claim on a running job: who holds it and which attempt it is. */
export interface Claim {
  id: number;
  owner: string;
  attempt: number;
}

export interface NewJob {
  type: string;
  payload: unknown;
  maxAttempts: number;
  /** Milliseconds from now after which failures are final; null: only maxAttempts counts. */
  deadlineMs: number | null;
  /** Milliseconds from now before the job may run. */
  delayMs: number;
}

export async function insertJob(db: Queryable, job: NewJob): Promise<JobRow> {
  const rows = await db.query<JobRow>(
    `INSERT INTO jobs (type, payload, max_attempts, deadline, run_at)
     VALUES ($1, $2::jsonb, $3, now() + $4::float8 * interval '1 millisecond', now() + $5::float8 * interval '1 millisecond')
     RETURNING ${JOB_COLUMNS}`,
    [job.type, JSON.stringify(job.payload ?? {}), job.maxAttempts, job.deadlineMs, job.delayMs],
  );
  return rows[0] as JobRow;
}

export async function findJob(db: Queryable, id: number): Promise<JobRow | undefined> {
  const rows = await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [id]);
  return rows[0];
}

/**
 * Claims up to `limit` due pending jobs of one type for `owner`, unless the queue (or 'all') is
 * paused. SKIP LOCKED lets instances claim concurrently without waiting for or taking the same
 * row; the lease is counted from the database's clock.
 */
export async function claimJobs(
  db: Queryable,
  type: string,
  owner: string,
  leaseMs: number,
  limit: number,
): Promise<JobRow[]> {
  return db.query<JobRow>(
    `UPDATE jobs SET status = 'running', lease_owner = $2,
       lease_until = now() + $3::float8 * interval '1 millisecond', attempts = attempts + 1,
       started_at = now(), updated_at = now()
     WHERE id IN (
       SELECT id FROM jobs
       WHERE type = $1 AND status = 'pending' AND run_at <= now()
         AND NOT EXISTS (SELECT 1 FROM job_queues q WHERE q.type IN ($1, 'all') AND q.paused)
       ORDER BY run_at, id
       LIMIT $4
       FOR UPDATE SKIP LOCKED)
     RETURNING ${JOB_COLUMNS}`,
    [type, owner, leaseMs, limit],
  );
}

/**
 * Renews the leases of the given claims; returns, for each claim still held, whether a stop was
 * requested. A claim missing from the answer was lost (taken over, finished or stopped elsewhere).
 */
export async function renewLeases(
  db: Queryable,
  owner: string,
  claims: readonly Claim[],
  leaseMs: number | null,
): Promise<Array<{ id: number; stop_requested: boolean }>> {
  if (claims.length === 0) return [];
  // leaseMs null: only look (the frequent stop check), do not write.
  const sql =
    leaseMs === null
      ? `SELECT j.id, j.stop_requested FROM jobs j
         JOIN unnest($2::bigint[], $3::int[]) AS c(id, attempt) ON j.id = c.id
         WHERE j.status = 'running' AND j.lease_owner = $1 AND j.attempts = c.attempt`
      : `UPDATE jobs j SET lease_until = now() + $4::float8 * interval '1 millisecond', updated_at = now()
         FROM unnest($2::bigint[], $3::int[]) AS c(id, attempt)
         WHERE j.id = c.id AND j.status = 'running' AND j.lease_owner = $1 AND j.attempts = c.attempt
         RETURNING j.id, j.stop_requested`;
  const params = [owner, claims.map((c) => String(c.id)), claims.map((c) => String(c.attempt))];
  return db.query(sql, leaseMs === null ? params : [...params, leaseMs]);
}

/** Marks a claimed job succeeded. False when the claim was no longer current. */
export async function finishJob(db: Queryable, claim: Claim): Promise<boolean> {
  const rows = await db.query(
    `UPDATE jobs SET status = 'succeeded', lease_owner = NULL, lease_until = NULL, last_error = NULL,
       finished_at = now(), updated_at = now()
     WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND attempts = $3
     RETURNING id`,
    [claim.id, claim.owner, claim.attempt],
  );
  return rows.length > 0;
}

/**
 * Records a failed attempt: back to pending after `retryInMs` while attempts and the deadline
 * allow, else final (error; stopped when a stop was requested). `final` ends it at once (a
 * failure its handler recorded as final). Returns the new status, or undefined when the claim
 * was no longer current.
 */
export async function failJob(
  db: Queryable,
  claim: Claim,
  error: string,
  retryInMs: number,
  final = false,
): Promise<JobStatus | undefined> {
  const rows = await db.query<{ status: JobStatus }>(
    `UPDATE jobs SET
       status = CASE
         WHEN stop_requested THEN 'stopped'
         WHEN NOT $6::boolean AND attempts < max_attempts
           AND (deadline IS NULL OR now() + $5::float8 * interval '1 millisecond' < deadline) THEN 'pending'
         ELSE 'error' END,
       run_at = now() + $5::float8 * interval '1 millisecond',
       finished_at = CASE
         WHEN NOT stop_requested AND NOT $6::boolean AND attempts < max_attempts
           AND (deadline IS NULL OR now() + $5::float8 * interval '1 millisecond' < deadline) THEN NULL
         ELSE now() END,
       lease_owner = NULL, lease_until = NULL, last_error = $4, updated_at = now()
     WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND attempts = $3
     RETURNING status`,
    [claim.id, claim.owner, claim.attempt, error, retryInMs, final],
  );
  return rows[0]?.status;
}

/** A handler interrupted by a stop request: final, status stopped. */
export async function markStopped(db: Queryable, claim: Claim): Promise<boolean> {
  const rows = await db.query(
    `UPDATE jobs SET status = 'stopped', lease_owner = NULL, lease_until = NULL,
       finished_at = now(), updated_at = now()
     WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND attempts = $3
     RETURNING id`,
    [claim.id, claim.owner, claim.attempt],
  );
  return rows.length > 0;
}

/**
 * Gives a claimed job back at once (graceful shutdown): pending, due now, and the attempt not
 * counted, since the work was interrupted by us and not by a failure of its own.
 */
export async function releaseJob(db: Queryable, claim: Claim): Promise<boolean> {
  const rows = await db.query(
    `UPDATE jobs SET status = 'pending', lease_owner = NULL, lease_until = NULL, run_at = now(),
       attempts = attempts - 1, updated_at = now()
     WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND attempts = $3
     RETURNING id`,
    [claim.id, claim.owner, claim.attempt],
  );
  return rows.length > 0;
}

/**
 * Running jobs whose lease ran out (their instance died or hung): pending again, due now, or
 * final when the lost attempt was the last (a job that kills its instance must not loop). The
 * lost attempt counts. Returns what was done, with the owner that lost each job.
 */
export async function reclaimExpired(
  db: Queryable,
  limit: number,
): Promise<Array<{ id: number; status: JobStatus; previous_owner: string | null }>> {
  return db.query(
    `WITH expired AS (
       SELECT id, lease_owner FROM jobs
       WHERE status = 'running' AND lease_until < now()
       ORDER BY lease_until
       LIMIT $1
       FOR UPDATE SKIP LOCKED)
     UPDATE jobs j SET
       status = CASE WHEN j.stop_requested THEN 'stopped'
                     WHEN j.attempts >= j.max_attempts THEN 'error' ELSE 'pending' END,
       finished_at = CASE WHEN j.stop_requested OR j.attempts >= j.max_attempts THEN now() END,
       last_error = 'the lease of instance ' || coalesce(e.lease_owner, '?') || ' expired',
       lease_owner = NULL, lease_until = NULL, run_at = now(), updated_at = now()
     FROM expired e
     WHERE j.id = e.id
     RETURNING j.id, j.status, e.lease_owner AS previous_owner`,
    [limit],
  );
}

/**
 * Asks a job to stop: a pending one is stopped at once, a running one is flagged (its instance
 * sees the flag within a second and aborts the handler). Finished jobs are left as they are.
 * Undefined when there is no such job.
 */
export async function requestStop(db: Queryable, id: number): Promise<JobStatus | undefined> {
  const rows = await db.query<{ status: JobStatus }>(
    `UPDATE jobs SET
       stop_requested = stop_requested OR status IN ('pending', 'running'),
       status = CASE WHEN status = 'pending' THEN 'stopped' ELSE status END,
       finished_at = CASE WHEN status = 'pending' THEN now() ELSE finished_at END,
       updated_at = now()
     WHERE id = $1
     RETURNING status`,
    [id],
  );
  return rows[0]?.status;
}

/** Harbor's "stop" on a queue: every pending job of the type (or of all types) is stopped. */
export async function stopPendingJobs(db: Queryable, type: string | null): Promise<number> {
  const rows = await db.query(
    `UPDATE jobs SET status = 'stopped', stop_requested = true, finished_at = now(), updated_at = now()
     WHERE status = 'pending' AND ($1::text IS NULL OR type = $1)
     RETURNING id`,
    [type],
  );
  return rows.length;
}

export async function setQueuePaused(db: Queryable, type: string, paused: boolean): Promise<void> {
  await db.query(
    `INSERT INTO job_queues (type, paused) VALUES ($1, $2)
     ON CONFLICT (type) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()`,
    [type, paused],
  );
}

/** Resume of 'all': every queue, not only the 'all' row, runs again. */
export async function resumeAllQueues(db: Queryable): Promise<void> {
  await db.query('UPDATE job_queues SET paused = false, updated_at = now() WHERE paused');
}

export interface QueueRow {
  type: string;
  count: number;
  latency_seconds: number;
  paused: boolean;
}

/**
 * Every queue of the cluster: the types live pools run, types with pending jobs (a scan of the
 * partial pending index only) and paused types, with pending counts and the paused flags.
 */
export async function listQueues(db: Queryable, liveWithinMs: number): Promise<QueueRow[]> {
  return db.query<QueueRow>(
    `WITH pending AS (
       SELECT type, count(*)::int AS count,
         coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)::int AS latency
       FROM jobs WHERE status = 'pending' GROUP BY type),
     known AS (
       SELECT type FROM pending
       UNION SELECT type FROM job_queues
       UNION SELECT unnest(types) FROM job_pools
         WHERE heartbeat_at >= now() - $1::float8 * interval '1 millisecond')
     SELECT k.type, coalesce(p.count, 0) AS count, coalesce(p.latency, 0) AS latency_seconds,
       coalesce(q.paused, false) AS paused
     FROM known k LEFT JOIN pending p ON p.type = k.type LEFT JOIN job_queues q ON q.type = k.type
     ORDER BY 1`,
    [liveWithinMs],
  );
}

/** Deletes finished jobs (and, by cascade, their logs) older than the retention, a batch at a time. */
export async function purgeFinishedJobs(db: Queryable, olderThanMs: number, limit: number): Promise<number> {
  const rows = await db.query(
    `DELETE FROM jobs WHERE id IN (
       SELECT id FROM jobs WHERE finished_at < now() - $1::float8 * interval '1 millisecond'
       ORDER BY finished_at LIMIT $2)
     RETURNING id`,
    [olderThanMs, limit],
  );
  return rows.length;
}

// --- logs ---

export async function insertJobLogLines(
  db: Queryable,
  jobId: number,
  lines: ReadonlyArray<{ at: Date; line: string }>,
): Promise<void> {
  if (lines.length === 0) return;
  await db.query(
    `INSERT INTO job_logs (job_id, at, line)
     SELECT $1, l.at, l.line FROM unnest($2::timestamptz[], $3::text[]) WITH ORDINALITY AS l(at, line, n)
     ORDER BY l.n`,
    [jobId, lines.map((l) => l.at.toISOString()), lines.map((l) => l.line)],
  );
}

export async function readJobLog(
  db: Queryable,
  jobId: number,
  limit: number,
): Promise<Array<{ at: Date; line: string }>> {
  return db.query(`SELECT at, line FROM job_logs WHERE job_id = $1 ORDER BY id LIMIT $2`, [jobId, limit]);
}

// --- pools (one per instance) ---

export interface PoolRow {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  started_at: Date;
  heartbeat_at: Date;
}

export async function upsertPool(
  db: Queryable,
  pool: { id: string; host: string; pid: number; concurrency: number; types: readonly string[] },
): Promise<void> {
  await db.query(
    `INSERT INTO job_pools (id, host, pid, concurrency, types) VALUES ($1, $2, $3, $4, $5::text[])
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), types = EXCLUDED.types`,
    [pool.id, pool.host, pool.pid, pool.concurrency, pool.types],
  );
}

export async function deletePool(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM job_pools WHERE id = $1', [id]);
}

/** Pools whose heartbeat is recent; older rows (instances that died) are removed on the way. */
export async function listLivePools(db: Queryable, staleAfterMs: number): Promise<PoolRow[]> {
  await db.query(`DELETE FROM job_pools WHERE heartbeat_at < now() - $1::float8 * interval '1 millisecond'`, [
    staleAfterMs * 10,
  ]);
  return db.query<PoolRow>(
    `SELECT id, host, pid, concurrency, started_at, heartbeat_at FROM job_pools
     WHERE heartbeat_at >= now() - $1::float8 * interval '1 millisecond' ORDER BY started_at, id`,
    [staleAfterMs],
  );
}

export async function findPool(db: Queryable, id: string): Promise<PoolRow | undefined> {
  const rows = await db.query<PoolRow>(
    'SELECT id, host, pid, concurrency, started_at, heartbeat_at FROM job_pools WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** The running jobs a pool holds: Harbor's "workers" of that pool. */
export async function listRunningJobsOf(db: Queryable, owner: string): Promise<JobRow[]> {
  return db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE status = 'running' AND lease_owner = $1 ORDER BY id`,
    [owner],
  );
}
