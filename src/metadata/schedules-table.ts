import type { Queryable } from './database.js';

// SQL of the schedules table (migration 004). Firing is done in one transaction per batch by
// src/jobs/schedules.ts: due rows are locked with SKIP LOCKED, each gets its job (unique per
// schedule and fire time) and its next fire time, so a fire time yields one job in the cluster.

export interface ScheduleRow {
  id: number;
  type: string;
  vendor_id: number;
  cron: string;
  payload: unknown;
  next_run: Date;
  paused: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, type, vendor_id, cron, payload, next_run, paused, created_at, updated_at';

export async function upsertSchedule(
  db: Queryable,
  s: { type: string; vendorId: number; cron: string; payload: unknown; nextRun: Date },
): Promise<ScheduleRow> {
  const rows = await db.query<ScheduleRow>(
    `INSERT INTO schedules (type, vendor_id, cron, payload, next_run) VALUES ($1, $2, $3, $4::jsonb, $5)
     ON CONFLICT (type, vendor_id) DO UPDATE SET cron = EXCLUDED.cron, payload = EXCLUDED.payload,
       next_run = EXCLUDED.next_run, updated_at = now()
     RETURNING ${COLUMNS}`,
    [s.type, s.vendorId, s.cron, JSON.stringify(s.payload ?? {}), s.nextRun],
  );
  return rows[0] as ScheduleRow;
}

export async function deleteSchedule(db: Queryable, type: string, vendorId: number): Promise<boolean> {
  const rows = await db.query('DELETE FROM schedules WHERE type = $1 AND vendor_id = $2 RETURNING id', [
    type,
    vendorId,
  ]);
  return rows.length > 0;
}

export async function setSchedulePaused(
  db: Queryable,
  type: string,
  vendorId: number,
  paused: boolean,
): Promise<boolean> {
  const rows = await db.query(
    'UPDATE schedules SET paused = $3, updated_at = now() WHERE type = $1 AND vendor_id = $2 RETURNING id',
    [type, vendorId, paused],
  );
  return rows.length > 0;
}

export async function findSchedule(
  db: Queryable,
  type: string,
  vendorId: number,
): Promise<ScheduleRow | undefined> {
  const rows = await db.query<ScheduleRow>(
    `SELECT ${COLUMNS} FROM schedules WHERE type = $1 AND vendor_id = $2`,
    [type, vendorId],
  );
  return rows[0];
}

/** A page of schedules by id (the primary key's order) and the total count. */
export async function listSchedules(
  db: Queryable,
  offset: number,
  limit: number,
): Promise<{ items: ScheduleRow[]; total: number }> {
  const items = await db.query<ScheduleRow>(
    `SELECT ${COLUMNS} FROM schedules ORDER BY id LIMIT $1 OFFSET $2`,
    [limit, offset],
  );
  const count = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schedules');
  return { items, total: count[0]?.n ?? 0 };
}

/**
 * Locks up to `limit` due, unpaused schedules of the given types (call inside a transaction);
 * also returns the database's now. Only known types: a schedule no instance here can run must
 * not crowd out the others.
 */
/** The database's clock: every instance computes fire times from the same one. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const rows = await db.query<{ now: Date }>('SELECT now() AS now');
  return (rows[0] as { now: Date }).now;
}

export async function lockDueSchedules(
  tx: Queryable,
  types: readonly string[],
  limit: number,
): Promise<{ now: Date; due: ScheduleRow[] }> {
  const due = await tx.query<ScheduleRow>(
    `SELECT ${COLUMNS} FROM schedules WHERE NOT paused AND next_run <= now() AND type = ANY($1::text[])
     ORDER BY next_run LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [types, limit],
  );
  const now = await tx.query<{ now: Date }>('SELECT now() AS now');
  return { now: (now[0] as { now: Date }).now, due };
}

/** The job of one fire time; nothing when that fire time already has its job. */
export async function insertScheduledJob(
  tx: Queryable,
  s: ScheduleRow,
  job: { maxAttempts: number; deadlineMs: number | null },
): Promise<number | undefined> {
  const rows = await tx.query<{ id: number }>(
    `INSERT INTO jobs (type, payload, max_attempts, deadline, schedule_id, fire_time)
     VALUES ($1, $2::jsonb, $3, now() + $4::float8 * interval '1 millisecond', $5, $6)
     ON CONFLICT (schedule_id, fire_time) DO NOTHING
     RETURNING id`,
    [s.type, JSON.stringify(s.payload ?? {}), job.maxAttempts, job.deadlineMs, s.id, s.next_run],
  );
  return rows[0]?.id;
}

export async function advanceSchedule(tx: Queryable, id: number, nextRun: Date): Promise<void> {
  await tx.query('UPDATE schedules SET next_run = $2 WHERE id = $1', [id, nextRun]);
}
