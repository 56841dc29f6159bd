import { randomUUID } from 'node:crypto';

import type { EventActor, EventType, NewEvent, RecordedEvent } from '../domain/events.js';
import type { Queryable } from './database.js';

interface EventRow {
  sequence: string | number;
  id: string;
  type: string;
  project_name: string | null;
  actor: EventActor;
  data: unknown;
  occurred_at: Date;
}

// The handles (transactions, or a database used outside one) that recorded events since they
// were last asked: the composition root wakes the dispatcher after such a transaction commits
// (services/events/nudging-database.ts), so no writer has to remember to.
const recordingHandles = new WeakSet<Queryable>();

/** Whether `handle` recorded events since the last call (and forgets it). */
export function takeRecordedEvents(handle: Queryable): boolean {
  return recordingHandles.delete(handle);
}

/** Records events in the caller's transaction: they exist exactly when the change does. */
export async function recordEvents(tx: Queryable, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  // Marked before the insert: outside a transaction, the wrapper looks right after it returns.
  recordingHandles.add(tx);
  await tx.query(
    `INSERT INTO events (id, type, project_name, actor, data)
     SELECT e.id::uuid, e.type, e.project, e.actor::jsonb, e.data::jsonb
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
       AS e(id, type, project, actor, data, n)
     ORDER BY e.n`,
    [
      events.map(() => randomUUID()),
      events.map((e) => e.type),
      events.map((e) => e.projectName),
      events.map((e) => JSON.stringify(e.actor)),
      events.map((e) => JSON.stringify(e.data)),
    ],
  );
}

export function recordEvent(tx: Queryable, event: NewEvent): Promise<void> {
  return recordEvents(tx, [event]);
}

/**
 * The oldest undispatched events, locked for the caller's transaction (other dispatchers skip
 * them), in recording order. Only events of transactions older than every transaction still
 * running are taken: a sequence number is drawn at insert, not at commit, so without this a
 * slower transaction could commit a lower sequence after a higher one had been handed out.
 */
export async function claimUndispatched(tx: Queryable, limit: number): Promise<RecordedEvent[]> {
  const rows = await tx.query<EventRow>(
    `SELECT sequence, id, type, project_name, actor, data, occurred_at FROM events
     WHERE dispatched_at IS NULL AND txid < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY sequence LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows.map(toRecorded);
}

// Any fixed 64-bit key, the same on every instance: one dispatcher of the cluster works at a time.
const DISPATCH_LOCK_KEY = 7_320_481_735;

/** Takes the cluster's dispatch lock for the caller's transaction; false when another holds it. */
export async function tryDispatchLock(tx: Queryable): Promise<boolean> {
  const rows = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [
    DISPATCH_LOCK_KEY,
  ]);
  return rows[0]?.locked === true;
}

/**
 * Deletes events dispatched before `before`, except those a consumer's backlog still has to
 * deliver (event-backlog-table.ts). Returns how many went.
 */
export async function purgeDispatched(db: Queryable, before: Date): Promise<number> {
  const rows = await db.query<{ n: string | number }>(
    `WITH gone AS (
       DELETE FROM events e WHERE e.dispatched_at < $1
         AND NOT EXISTS (SELECT 1 FROM event_backlog b WHERE b.sequence = e.sequence AND b.given_up_at IS NULL)
       RETURNING e.sequence
     ), backlog AS (
       DELETE FROM event_backlog b WHERE b.given_up_at < $1
     )
     SELECT count(*) AS n FROM gone`,
    [before],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Whether there is anything to dispatch (one cheap statement, before a round's transaction). */
export async function hasDispatchWork(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ work: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM events WHERE dispatched_at IS NULL)
         OR EXISTS (SELECT 1 FROM event_backlog WHERE given_up_at IS NULL) AS work`,
  );
  return rows[0]?.work === true;
}

/** How far dispatch is behind: undispatched events and the age of the oldest, in seconds. */
export async function outboxLag(db: Queryable): Promise<{ undispatched: number; oldestSeconds: number }> {
  const rows = await db.query<{ n: string | number; age: number | null }>(
    `SELECT count(*) AS n, EXTRACT(EPOCH FROM now() - min(occurred_at))::float8 AS age
     FROM events WHERE dispatched_at IS NULL`,
  );
  return { undispatched: Number(rows[0]?.n ?? 0), oldestSeconds: rows[0]?.age ?? 0 };
}

/** The events with these sequence numbers, in order (a consumer's backlog redelivers them). */
export async function eventsBySequence(
  db: Queryable,
  sequences: readonly number[],
): Promise<RecordedEvent[]> {
  if (sequences.length === 0) return [];
  const rows = await db.query<EventRow>(
    `SELECT sequence, id, type, project_name, actor, data, occurred_at FROM events
     WHERE sequence = ANY($1::bigint[]) ORDER BY sequence`,
    [sequences.map(String)],
  );
  return rows.map(toRecorded);
}

export async function markDispatched(tx: Queryable, sequences: readonly number[]): Promise<void> {
  if (sequences.length === 0) return;
  await tx.query(`UPDATE events SET dispatched_at = now() WHERE sequence = ANY($1::bigint[])`, [
    sequences.map(String),
  ]);
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    sequence: Number(row.sequence),
    id: row.id,
    type: row.type as EventType,
    projectName: row.project_name,
    actor: row.actor,
    data: row.data as RecordedEvent['data'],
    occurredAt: row.occurred_at,
  };
}
