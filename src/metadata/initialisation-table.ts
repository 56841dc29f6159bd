import type { Queryable } from './database.js';

// The database's one-time initialisation (the first account and the `library` project) is
// recorded as a row of system_settings, so that it happens once in the database's life: deleting
// the first account later does not bring it back at the next start.

const MARKER = 'initialised_at';

/** Whether the database has been initialised already. */
export async function isInitialised(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ name: string }>('SELECT name FROM system_settings WHERE name = $1', [MARKER]);
  return rows.length > 0;
}

/**
 * Records the initialisation; true for the one caller that gets to do it. Inside a transaction,
 * a concurrent caller waits on the row until this one commits, then gets false.
 */
export async function claimInitialisation(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ name: string }>(
    `INSERT INTO system_settings (name, value) VALUES ($1, to_jsonb(now()::text))
     ON CONFLICT (name) DO NOTHING RETURNING name`,
    [MARKER],
  );
  return rows.length > 0;
}

/** Whether any user account exists (a database that predates the marker, or filled by an import). */
export async function hasUsers(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ found: boolean }>('SELECT EXISTS (SELECT 1 FROM users) AS found');
  return rows[0]?.found === true;
}
