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

export interface UserRecord {
  id: number;
  username: string;
  email: string | null;
  realname: string;
  comment: string;
  sysadmin: boolean;
  created_at: Date;
  updated_at: Date;
}

const USER_COLUMNS = 'id, username, email, realname, comment, sysadmin, created_at, updated_at';

export async function findUserRecord(db: Queryable, id: number): Promise<UserRecord | null> {
  const rows = await db.query<UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function findUserRecordByName(db: Queryable, username: string): Promise<UserRecord | null> {
  const rows = await db.query<UserRecord>(`SELECT ${USER_COLUMNS} FROM users WHERE username = $1`, [
    username,
  ]);
  return rows[0] ?? null;
}

export async function passwordHashOf(db: Queryable, id: number): Promise<string | null> {
  const rows = await db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [
    id,
  ]);
  return rows[0]?.password_hash ?? null;
}

/** Inserts a user; null when the username or email is taken. */
export async function insertUser(
  db: Queryable,
  user: { username: string; email: string | null; realname: string; comment: string; passwordHash: string },
): Promise<UserRecord | null> {
  const rows = await db.query<UserRecord>(
    `INSERT INTO users (username, email, realname, comment, password_hash) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING RETURNING ${USER_COLUMNS}`,
    [user.username, user.email, user.realname, user.comment, user.passwordHash],
  );
  return rows[0] ?? null;
}

export async function listUsers(
  db: Queryable,
  filter: { username?: string; usernameLike?: string; email?: string },
  offset: number,
  limit: number,
): Promise<{ items: UserRecord[]; total: number }> {
  const where = `($1::text IS NULL OR username = $1) AND ($2::text IS NULL OR strpos(username, $2) > 0)
    AND ($3::text IS NULL OR lower(email) = lower($3))`;
  const params = [filter.username ?? null, filter.usernameLike ?? null, filter.email ?? null];
  const total = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE ${where}`, params);
  const items = await db.query<UserRecord>(
    `SELECT ${USER_COLUMNS} FROM users WHERE ${where} ORDER BY username LIMIT $4 OFFSET $5`,
    [...params, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

export async function updateUserProfile(
  db: Queryable,
  id: number,
  profile: { email?: string | null; realname?: string; comment?: string },
): Promise<void> {
  await db.query(
    `UPDATE users SET email = CASE WHEN $2::boolean THEN $3::text ELSE email END, realname = COALESCE($4::text, realname),
       comment = COALESCE($5::text, comment), updated_at = now() WHERE id = $1`,
    [
      id,
      profile.email !== undefined,
      profile.email ?? null,
      profile.realname ?? null,
      profile.comment ?? null,
    ],
  );
}

/**
 * Sets a new password and ends every session of the user, in one statement: whoever changes a
 * password (the user, an administrator, an operator's reset) signs out whoever held the old one,
 * on every instance (sessions are rows, never cached in a process).
 */
export async function setUserPasswordHash(db: Queryable, id: number, passwordHash: string): Promise<void> {
  await db.query(
    `WITH ended AS (DELETE FROM sessions WHERE user_id = $1)
     UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1`,
    [id, passwordHash],
  );
}

export async function setUserSysadmin(db: Queryable, id: number, sysadmin: boolean): Promise<void> {
  await db.query('UPDATE users SET sysadmin = $2, updated_at = now() WHERE id = $1', [id, sysadmin]);
}

/** Deletes the user; its sessions go with it (ON DELETE CASCADE), on every instance. */
export async function deleteUser(db: Queryable, id: number): Promise<void> {
  await db.query(`DELETE FROM project_members WHERE entity_type = 'u' AND entity_id = $1`, [id]);
  await db.query('DELETE FROM users WHERE id = $1', [id]);
}
