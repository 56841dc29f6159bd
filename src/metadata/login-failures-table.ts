import type { Queryable } from './database.js';

// Login throttle counters shared by every instance (migration 010). A row counts the failures of
// one login name from one client address; the row with account '' counts every failure from an
// address. `last_success` remembers when the name last signed in from that address.

/** The address-wide counter's account: no login name is empty. */
export const WHOLE_ADDRESS = '';

export interface LoginLockRow {
  account: string;
  address: string;
  failures: number;
  locked_until: Date;
}

/**
 * When a login of `account` from `address` may be tried again: the end of the pair's own lock, or
 * of the address's lock unless the name signed in successfully from that address within
 * `knownSeconds`; null when neither holds.
 */
export async function lockedUntil(
  db: Queryable,
  account: string,
  address: string,
  knownSeconds: number,
): Promise<Date | null> {
  const rows = await db.query<{ until: Date | null }>(
    `SELECT greatest(
       (SELECT locked_until FROM login_failures
         WHERE account = $1 AND address = $2 AND locked_until > now()),
       (SELECT locked_until FROM login_failures
         WHERE account = '' AND address = $2 AND locked_until > now()
           AND NOT EXISTS (SELECT 1 FROM login_failures WHERE account = $1 AND address = $2
                             AND last_success > now() - make_interval(secs => $3)))
     ) AS until`,
    [account, address, knownSeconds],
  );
  return rows[0]?.until ?? null;
}

/**
 * Counts one failure of (account, address) within a window; when the count reaches `limit`, locks
 * the pair for `lockSeconds`. One statement, so concurrent failures on several instances all count.
 */
export async function recordFailure(
  db: Queryable,
  account: string,
  address: string,
  limits: { windowSeconds: number; limit: number; lockSeconds: number },
): Promise<void> {
  await db.query(
    `INSERT INTO login_failures AS f (account, address, failures, window_start) VALUES ($1, $2, 1, now())
     ON CONFLICT (account, address) DO UPDATE SET
       failures = CASE WHEN f.window_start < now() - make_interval(secs => $3) THEN 1 ELSE f.failures + 1 END,
       window_start = CASE WHEN f.window_start < now() - make_interval(secs => $3) THEN now() ELSE f.window_start END,
       locked_until = CASE
         WHEN f.window_start >= now() - make_interval(secs => $3) AND f.failures + 1 >= $4
         THEN now() + make_interval(secs => $5) ELSE f.locked_until END`,
    [account, address, limits.windowSeconds, limits.limit, limits.lockSeconds],
  );
}

/** A successful sign-in: the pair's failures are forgotten and the address becomes known for the name. */
export async function recordSuccess(db: Queryable, account: string, address: string): Promise<void> {
  await db.query(
    `INSERT INTO login_failures AS f (account, address, failures, window_start, last_success)
     VALUES ($1, $2, 0, now(), now())
     ON CONFLICT (account, address) DO UPDATE SET
       failures = 0, window_start = now(), locked_until = NULL, last_success = now()`,
    [account, address],
  );
}

/**
 * Deletes rows that no longer matter: window over, no lock in force, and no success within
 * `knownSeconds`. Without this, every name ever tried would stay a row forever.
 */
export async function purgeLoginFailures(
  db: Queryable,
  windowSeconds: number,
  knownSeconds: number,
): Promise<number> {
  const rows = await db.query<{ n: number }>(
    `WITH gone AS (
       DELETE FROM login_failures
        WHERE window_start < now() - make_interval(secs => $1)
          AND (locked_until IS NULL OR locked_until <= now())
          AND (last_success IS NULL OR last_success < now() - make_interval(secs => $2))
        RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
    [windowSeconds, knownSeconds],
  );
  return rows[0]?.n ?? 0;
}

/** Locks in force now, newest first (at most `limit`), for administrators. */
export async function listLoginLocks(db: Queryable, limit: number): Promise<LoginLockRow[]> {
  return db.query<LoginLockRow>(
    `SELECT account, address, failures, locked_until FROM login_failures
      WHERE locked_until > now() ORDER BY locked_until DESC LIMIT $1`,
    [limit],
  );
}

/**
 * Lifts locks and clears failure counts (an administrator's unlock). With `account`: that name's
 * rows (only from `address` when given, plus that address's own counter); with only `address`:
 * every row of that address. Known addresses (last_success) are kept. Returns the rows cleared.
 */
export async function liftLoginLocks(
  db: Queryable,
  target: { account?: string; address?: string },
): Promise<number> {
  const rows = await db.query<{ n: number }>(
    `WITH lifted AS (
       UPDATE login_failures SET failures = 0, locked_until = NULL, window_start = now()
        WHERE ($1::text IS NULL OR account = $1 OR (account = '' AND address = $2))
          AND ($2::text IS NULL OR address = $2)
          AND ($1::text IS NOT NULL OR $2::text IS NOT NULL)
          AND (failures > 0 OR locked_until IS NOT NULL)
        RETURNING 1)
     SELECT count(*)::int AS n FROM lifted`,
    [target.account ?? null, target.address ?? null],
  );
  return rows[0]?.n ?? 0;
}
