import type { Queryable } from './database.js';

export interface SessionRow {
  user_id: number;
  username: string;
  sysadmin: boolean;
  csrf_token: string;
  expires_at: Date;
}

export async function insertSession(
  db: Queryable,
  tokenHash: string,
  userId: number,
  csrfToken: string,
  expiresAt: Date,
): Promise<void> {
  await db.query(
    'INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)',
    [tokenHash, userId, csrfToken, expiresAt],
  );
}

/** The live session for a token hash, with its user, sliding its expiry forward. */
export async function touchSession(
  db: Queryable,
  tokenHash: string,
  expiresAt: Date,
): Promise<SessionRow | null> {
  const rows = await db.query<SessionRow>(
    `UPDATE sessions s SET expires_at = $2 FROM users u
     WHERE s.token_hash = $1 AND s.expires_at > now() AND u.id = s.user_id
     RETURNING s.user_id, u.username, u.sysadmin, s.csrf_token, s.expires_at`,
    [tokenHash, expiresAt],
  );
  return rows[0] ?? null;
}

export async function deleteSession(db: Queryable, tokenHash: string): Promise<void> {
  await db.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
}

export async function purgeExpiredSessions(db: Queryable): Promise<void> {
  await db.query('DELETE FROM sessions WHERE expires_at < now()');
}
