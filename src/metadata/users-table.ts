import type { Queryable } from './database.js';

export interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  sysadmin: boolean;
}

export async function findUserByName(db: Queryable, username: string): Promise<UserRow | null> {
  const rows = await db.query<UserRow>(
    'SELECT id, username, password_hash, sysadmin FROM users WHERE username = $1',
    [username],
  );
  return rows[0] ?? null;
}

/** Creates the user if absent; returns true when it was created. */
export async function insertUserIfAbsent(
  db: Queryable,
  username: string,
  passwordHash: string,
  sysadmin: boolean,
): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    `INSERT INTO users (username, password_hash, sysadmin) VALUES ($1, $2, $3)
     ON CONFLICT (username) DO NOTHING RETURNING id`,
    [username, passwordHash, sysadmin],
  );
  return rows.length > 0;
}

export async function updateUserPassword(
  db: Queryable,
  username: string,
  passwordHash: string,
): Promise<void> {
  await db.query('UPDATE users SET password_hash = $2, updated_at = now() WHERE username = $1', [
    username,
    passwordHash,
  ]);
}
