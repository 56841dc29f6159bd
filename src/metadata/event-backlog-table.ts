import type { Queryable } from './database.js';

// A consumer's backlog (migration 015): the events it failed to take, redelivered to it alone, in
// sequence order, with backoff, while the other consumers go on. New events for a consumer with
// an open backlog queue behind it, so each consumer still sees its events in order.

export interface BacklogEntry {
  sequence: number;
  attempts: number;
  /** Whether its next attempt is due now (by the database's clock, shared by the instances). */
  due: boolean;
}

/** The consumers among `consumers` that have events waiting in their backlog. */
export async function consumersWithBacklog(
  tx: Queryable,
  consumers: readonly string[],
): Promise<Set<string>> {
  if (consumers.length === 0) return new Set();
  const rows = await tx.query<{ consumer: string }>(
    `SELECT DISTINCT consumer FROM event_backlog WHERE given_up_at IS NULL AND consumer = ANY($1::text[])`,
    [[...consumers]],
  );
  return new Set(rows.map((r) => r.consumer));
}

/** The first open entries of a consumer's backlog, in sequence order. */
export async function backlogHead(tx: Queryable, consumer: string, limit: number): Promise<BacklogEntry[]> {
  const rows = await tx.query<{ sequence: string | number; attempts: number; due: boolean }>(
    `SELECT sequence, attempts, next_attempt_at <= now() AS due FROM event_backlog
     WHERE consumer = $1 AND given_up_at IS NULL ORDER BY sequence LIMIT $2`,
    [consumer, limit],
  );
  return rows.map((r) => ({ sequence: Number(r.sequence), attempts: r.attempts, due: r.due }));
}

/** Puts events in a consumer's backlog, first tried after `delayMs`. */
export async function parkEvents(
  tx: Queryable,
  consumer: string,
  sequences: readonly number[],
  delayMs: number,
  error: string | null,
): Promise<void> {
  if (sequences.length === 0) return;
  await tx.query(
    `INSERT INTO event_backlog (consumer, sequence, next_attempt_at, last_error)
     SELECT $1, s, now() + make_interval(secs => $3::float8 / 1000), $4 FROM unnest($2::bigint[]) AS s
     ON CONFLICT (consumer, sequence) DO NOTHING`,
    [consumer, sequences.map(String), delayMs, error],
  );
}

/** The consumer took the event: it leaves the backlog. */
export async function clearBacklogEntry(tx: Queryable, consumer: string, sequence: number): Promise<void> {
  await tx.query('DELETE FROM event_backlog WHERE consumer = $1 AND sequence = $2', [consumer, sequence]);
}

/** Another failed attempt: tried again after `delayMs`, or given up (kept, no longer tried). */
export async function recordBacklogFailure(
  tx: Queryable,
  consumer: string,
  sequence: number,
  failure: { error: string; delayMs: number; giveUp: boolean },
): Promise<void> {
  await tx.query(
    `UPDATE event_backlog SET attempts = attempts + 1, last_error = $3,
       next_attempt_at = now() + make_interval(secs => $4::float8 / 1000),
       given_up_at = CASE WHEN $5 THEN now() END
     WHERE consumer = $1 AND sequence = $2`,
    [consumer, sequence, failure.error, failure.delayMs, failure.giveUp],
  );
}

/** Entries given up by consumer (for an operator's look; kept until the events are purged). */
export async function givenUpEntries(
  db: Queryable,
): Promise<Array<{ consumer: string; sequence: number; attempts: number; lastError: string | null }>> {
  const rows = await db.query<{
    consumer: string;
    sequence: string | number;
    attempts: number;
    last_error: string | null;
  }>(
    `SELECT consumer, sequence, attempts, last_error FROM event_backlog WHERE given_up_at IS NOT NULL
     ORDER BY consumer, sequence`,
  );
  return rows.map((r) => ({
    consumer: r.consumer,
    sequence: Number(r.sequence),
    attempts: r.attempts,
    lastError: r.last_error,
  }));
}

/** Runs fn in a savepoint: when it throws, only its own writes are undone, not the transaction's. */
export async function inSavepoint<T>(tx: Queryable, fn: () => Promise<T>): Promise<T> {
  await tx.query('SAVEPOINT event_consumer');
  try {
    const result = await fn();
    await tx.query('RELEASE SAVEPOINT event_consumer');
    return result;
  } catch (err) {
    await tx.query('ROLLBACK TO SAVEPOINT event_consumer');
    await tx.query('RELEASE SAVEPOINT event_consumer');
    throw err;
  }
}
