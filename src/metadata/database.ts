import { DomainError } from '../domain/errors.js';

// The one interface the metadata repositories use. Two adapters implement it with the same SQL:
// PGlite (embedded, in-process) and node-postgres (an external PostgreSQL server).

export type SqlParam = string | number | boolean | null | Date | Uint8Array | readonly (string | null)[];

export interface Queryable {
  query<Row extends object>(sql: string, params?: readonly SqlParam[]): Promise<Row[]>;
  /** Runs a script of several statements without parameters (migrations). */
  execScript(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs fn in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Thrown by adapters when the database cannot be reached; the HTTP edge answers 503 with a
 * message of its own (this one names the driver's failure, for the log only).
 */
export class DatabaseUnavailableError extends DomainError {
  constructor(message: string, options?: ErrorOptions) {
    super('DATABASE_UNAVAILABLE', message, undefined, undefined, options);
    this.name = 'DatabaseUnavailableError';
  }
}

/** A round trip to the database: the health check's probe. */
export async function pingDatabase(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}

/** PostgreSQL's unique_violation, so repositories can turn races into idempotent outcomes. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/**
 * PostgreSQL ended the transaction to break a deadlock or a serialisation conflict: nothing it did
 * is committed, and the same work may simply be tried again later.
 */
export function isTransientConflict(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === '40P01' || code === '40001';
}

/** A row referred to was deleted meanwhile (a concurrent delete won the race). */
export function isForeignKeyViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23503';
}
