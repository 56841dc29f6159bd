import type { Queryable } from './database.js';

// Login sessions: the row is the session, so every instance sees a change at once (no process
// keeps a copy). A session ends at `expires_at`, which slides with use but never past
// `created_at` plus the absolute lifetime.

export interface SessionRow {
  user_id: number;
  username: string;
  sysadmin: boolean;
  csrf_token: string;
  expires_at: Date;
}

export interface SessionLifetime {
  idleSeconds: number;
  maxSeconds: number;
}

/**
 * Opens a session for the user, but only while its password is still `passwordHash` (the one the
 * login verified): a password change that lands between the check and this insert wins, and no
 * session of the old password survives it. False when the user or its password changed.
 */
export async function insertSession(
  db: Queryable,
  session: { tokenHash: string; userId: number; passwordHash: string; csrfToken: string },
  lifetime: SessionLifetime,
): Promise<boolean> {
  const rows = await db.query<{ user_id: number }>(
    `INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
     SELECT $1, u.id, $3, now(), now() + make_interval(secs => least($5::int, $6::int))
       FROM users u WHERE u.id = $2 AND u.password_hash = $4
     RETURNING user_id`,
    [
      session.tokenHash,
      session.userId,
      session.csrfToken,
      session.passwordHash,
      lifetime.idleSeconds,
      lifetime.maxSeconds,
    ],
  );
  return rows.length > 0;
}

/**
 * The live session for a token hash, with its user, sliding its expiry forward by the idle
 * lifetime but never past its absolute end. A session of a deleted user is gone (the rows cascade).
 */
export async function touchSession(
  db: Queryable,
  tokenHash: string,
  lifetime: SessionLifetime,
): Promise<SessionRow | null> {
  const rows = await db.query<SessionRow>(
    `UPDATE sessions s SET expires_at = least(now() + make_interval(secs => $2::int),
                                              s.created_at + make_interval(secs => $3::int))
       FROM users u
     WHERE s.token_hash = $1 AND s.expires_at > now()
       AND s.created_at > now() - make_interval(secs => $3::int) AND u.id = s.user_id
     RETURNING s.user_id, u.username, u.sysadmin, s.csrf_token, s.expires_at`,
    [tokenHash, lifetime.idleSeconds, lifetime.maxSeconds],
  );
  return rows[0] ?? null;
}

export async function deleteSession(db: Queryable, tokenHash: string): Promise<void> {
  await db.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
}

export async function purgeExpiredSessions(db: Queryable): Promise<void> {
  await db.query('DELETE FROM sessions WHERE expires_at < now()');
}
