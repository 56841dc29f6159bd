import type { Queryable } from './database.js';

// SQL of the maintenance history (migration 023): one row per run of a system maintenance job
// (garbage collection, audit purge), keyed by its job id, and the Harbor type of each kind's
// schedule. The job service's `jobs` rows are the live truth while they exist; syncRuns copies
// their status here (and adds the runs its schedules fired), so the history outlives them.

export type RunTrigger = 'MANUAL' | 'SCHEDULE';

export interface MaintenanceRunRow {
  job_id: number;
  kind: string;
  trigger: RunTrigger;
  parameters: unknown;
  /** The job service's status when last seen (pending, running, succeeded, error, stopped). */
  status: string;
  log: string | null;
  created_at: Date;
  updated_at: Date;
}

const RUN_COLUMNS = 'job_id, kind, trigger, parameters, status, log, created_at, updated_at';

/** A run started through the API, inserted in the transaction that enqueued its job. */
export async function insertRun(
  db: Queryable,
  run: { jobId: number; kind: string; trigger: RunTrigger; parameters: unknown; status: string },
): Promise<void> {
  await db.query(
    `INSERT INTO maintenance_runs (job_id, kind, trigger, parameters, status) VALUES ($1, $2, $3, $4::jsonb, $5)
     ON CONFLICT (job_id) DO NOTHING`,
    [run.jobId, run.kind, run.trigger, JSON.stringify(run.parameters ?? {}), run.status],
  );
}

const COPY_JOBS = `INSERT INTO maintenance_runs (job_id, kind, trigger, parameters, status, created_at, updated_at)
  SELECT j.id, j.type, CASE WHEN j.schedule_id IS NULL THEN 'MANUAL' ELSE 'SCHEDULE' END, j.payload, j.status,
    j.created_at, j.updated_at
  FROM jobs j`;

/**
 * Brings the history of `kind` up to date with the job service: adds the jobs it has not seen
 * (the runs schedules fired) and copies the status and update time of those it has.
 */
export async function syncRuns(db: Queryable, kind: string): Promise<void> {
  await db.query(
    `${COPY_JOBS} WHERE j.type = $1
     ON CONFLICT (job_id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
     WHERE maintenance_runs.status IS DISTINCT FROM EXCLUDED.status
        OR maintenance_runs.updated_at IS DISTINCT FROM EXCLUDED.updated_at`,
    [kind],
  );
}

/** Keeps an attempt's log (and the status its handler ended with) for when the job's row is gone. */
export async function saveRunLog(db: Queryable, jobId: number, status: string, log: string): Promise<void> {
  await db.query(
    // A run a schedule fired may not be in the history yet.
    `${COPY_JOBS} WHERE j.id = $1 ON CONFLICT (job_id) DO NOTHING`,
    [jobId],
  );
  await db.query(
    // While the job's row exists, the next syncRuns replaces the status with the job service's.
    // Appended: each attempt of a retried run adds its own lines.
    `UPDATE maintenance_runs SET log = COALESCE(log, '') || $3, status = $2, updated_at = now() WHERE job_id = $1`,
    [jobId, status, log],
  );
}

/**
 * Deletes the runs of `kind` beyond the newest `keep` whose job the job service has purged (one
 * it still holds would only come back with the next sync).
 */
export async function pruneRuns(db: Queryable, kind: string, keep: number): Promise<void> {
  await db.query(
    `DELETE FROM maintenance_runs r
     WHERE r.kind = $1
       AND r.job_id NOT IN (SELECT job_id FROM maintenance_runs WHERE kind = $1
                            ORDER BY created_at DESC, job_id DESC LIMIT $2)
       AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id)`,
    [kind, keep],
  );
}

export async function findRun(
  db: Queryable,
  kind: string,
  jobId: number,
): Promise<MaintenanceRunRow | undefined> {
  const rows = await db.query<MaintenanceRunRow>(
    `SELECT ${RUN_COLUMNS} FROM maintenance_runs WHERE kind = $1 AND job_id = $2`,
    [kind, jobId],
  );
  return rows[0] && normalise(rows[0]);
}

/** Is a run of `kind` pending or running? Asked of the job service's rows, the live truth. */
export async function hasActiveJob(db: Queryable, type: string): Promise<boolean> {
  const rows = await db.query(
    `SELECT 1 FROM jobs WHERE type = $1 AND status IN ('pending', 'running') LIMIT 1`,
    [type],
  );
  return rows.length > 0;
}

/** Serialises the check for a running job and the enqueueing of a new one, cluster-wide. */
export async function lockKind(tx: Queryable, kind: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('maintenance:' || $1))`, [kind]);
}

export interface RunFilter {
  jobId?: number;
  statuses?: readonly string[];
  trigger?: RunTrigger;
  createdFrom?: Date;
  createdTo?: Date;
  updatedFrom?: Date;
  updatedTo?: Date;
}

/** The columns a history may be sorted by. */
export const RUN_SORT_COLUMNS = ['job_id', 'created_at', 'updated_at', 'status', 'trigger'] as const;
export type RunSortColumn = (typeof RUN_SORT_COLUMNS)[number];

export interface RunSort {
  column: RunSortColumn;
  descending: boolean;
}

/** A page of the history of `kind` and the number of runs the filter matches. */
export async function listRuns(
  db: Queryable,
  kind: string,
  filter: RunFilter,
  sort: RunSort,
  offset: number,
  limit: number,
): Promise<{ items: MaintenanceRunRow[]; total: number }> {
  const where = `kind = $1 AND ($2::bigint IS NULL OR job_id = $2)
    AND ($3::text[] IS NULL OR status = ANY($3::text[])) AND ($4::text IS NULL OR trigger = $4)
    AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at <= $6)
    AND ($7::timestamptz IS NULL OR updated_at >= $7) AND ($8::timestamptz IS NULL OR updated_at <= $8)`;
  const params = [
    kind,
    filter.jobId ?? null,
    filter.statuses ? [...filter.statuses] : null,
    filter.trigger ?? null,
    filter.createdFrom ?? null,
    filter.createdTo ?? null,
    filter.updatedFrom ?? null,
    filter.updatedTo ?? null,
  ];
  // The column is one of RUN_SORT_COLUMNS (checked by the type and at the edge), never raw input.
  const direction = sort.descending ? 'DESC' : 'ASC';
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM maintenance_runs WHERE ${where}`,
    params,
  );
  const items = await db.query<MaintenanceRunRow>(
    `SELECT ${RUN_COLUMNS} FROM maintenance_runs WHERE ${where}
     ORDER BY ${sort.column} ${direction}, job_id ${direction} LIMIT $9 OFFSET $10`,
    [...params, limit, offset],
  );
  return { items: items.map(normalise), total: total[0]?.n ?? 0 };
}

function normalise(row: MaintenanceRunRow): MaintenanceRunRow {
  return { ...row, job_id: Number(row.job_id) };
}

// --- schedule types ---

export type ScheduleType = 'Hourly' | 'Daily' | 'Weekly' | 'Custom' | 'None';

export interface ScheduleTypeRow {
  kind: string;
  schedule_type: ScheduleType;
  from_config: boolean;
  created_at: Date;
  updated_at: Date;
}

export async function findScheduleType(db: Queryable, kind: string): Promise<ScheduleTypeRow | undefined> {
  const rows = await db.query<ScheduleTypeRow>(
    'SELECT kind, schedule_type, from_config, created_at, updated_at FROM maintenance_schedules WHERE kind = $1',
    [kind],
  );
  return rows[0];
}

export async function saveScheduleType(
  db: Queryable,
  kind: string,
  type: ScheduleType,
  fromConfig: boolean,
): Promise<void> {
  await db.query(
    `INSERT INTO maintenance_schedules (kind, schedule_type, from_config) VALUES ($1, $2, $3)
     ON CONFLICT (kind) DO UPDATE SET schedule_type = EXCLUDED.schedule_type,
       from_config = EXCLUDED.from_config, updated_at = now()`,
    [kind, type, fromConfig],
  );
}

/**
 * Records the configuration's schedule unless the API set one (or removed it): true when the
 * configuration's schedule applies. Locks the row, so instances starting together agree.
 */
export async function claimScheduleForConfig(
  tx: Queryable,
  kind: string,
  type: ScheduleType,
): Promise<boolean> {
  await tx.query(
    `INSERT INTO maintenance_schedules (kind, schedule_type, from_config) VALUES ($1, $2, true)
     ON CONFLICT (kind) DO NOTHING`,
    [kind, type],
  );
  const rows = await tx.query<{ from_config: boolean }>(
    'SELECT from_config FROM maintenance_schedules WHERE kind = $1 FOR UPDATE',
    [kind],
  );
  if (!rows[0]?.from_config) return false;
  await tx.query('UPDATE maintenance_schedules SET schedule_type = $2, updated_at = now() WHERE kind = $1', [
    kind,
    type,
  ]);
  return true;
}
