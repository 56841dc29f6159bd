import type { Queryable } from './database.js';

// Failed-login counters shared by every instance (keys like `user:alice`, `addr:10.0.0.7`).

export interface LoginFailureRow {
  key: string;
  failures: number;
  window_start: Date;
  locked_until: Date | null;
}

export async function lockedUntil(db: Queryable, keys: readonly string[]): Promise<Date | null> {
  const rows = await db.query<{ until: Date | null }>(
    'SELECT max(locked_until) AS until FROM login_failures WHERE key = ANY($1::text[]) AND locked_until > now()',
    [keys],
  );
  return rows[0]?.until ?? null;
}

/**
 * Counts one failure for `key` within a window; when the count reaches `limit`, locks the key for
 * `lockSeconds`. One statement, so concurrent failures on several instances all count.
 */
export async function recordFailure(
  db: Queryable,
  key: string,
  windowSeconds: number,
  limit: number,
  lockSeconds: number,
): Promise<void> {
  await db.query(
    `INSERT INTO login_failures AS f (key, failures, window_start) VALUES ($1, 1, now())
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN f.window_start < now() - make_interval(secs => $2) THEN 1 ELSE f.failures + 1 END,
       window_start = CASE WHEN f.window_start < now() - make_interval(secs => $2) THEN now() ELSE f.window_start END,
       locked_until = CASE
         WHEN f.window_start >= now() - make_interval(secs => $2) AND f.failures + 1 >= $3
         THEN now() + make_interval(secs => $4) ELSE f.locked_until END`,
    [key, windowSeconds, limit, lockSeconds],
  );
}

export async function clearFailures(db: Queryable, key: string): Promise<void> {
  await db.query('DELETE FROM login_failures WHERE key = $1', [key]);
}
