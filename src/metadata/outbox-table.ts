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

/** Records events in the caller's transaction: they exist exactly when the change does. */
export async function recordEvents(tx: Queryable, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
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
 * them), in recording order.
 */
export async function claimUndispatched(tx: Queryable, limit: number): Promise<RecordedEvent[]> {
  const rows = await tx.query<EventRow>(
    `SELECT sequence, id, type, project_name, actor, data, occurred_at FROM events
     WHERE dispatched_at IS NULL ORDER BY sequence LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
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
