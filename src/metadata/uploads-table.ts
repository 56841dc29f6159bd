import type { Queryable } from './database.js';

export interface UploadSessionRow {
  id: string;
  repository_id: number;
  repository_name: string;
  byte_offset: number;
  hash_algorithm: string;
  hash_state: Uint8Array | null;
  hashed_digest: string | null;
  updated_at: Date;
}

/** `owner`: who opened the session (limits.max_upload_sessions_per_principal), null for no one. */
export async function createUploadSession(
  db: Queryable,
  id: string,
  repositoryId: number,
  hashAlgorithm: string,
  owner: string | null = null,
): Promise<void> {
  await db.query(
    'INSERT INTO upload_sessions (id, repository_id, hash_algorithm, owner) VALUES ($1, $2, $3, $4)',
    [id, repositoryId, hashAlgorithm, owner],
  );
}

/** Opens a session in an existing repository in one statement; false when the repository is unknown. */
export async function createUploadSessionByName(
  db: Queryable,
  id: string,
  repositoryName: string,
  hashAlgorithm: string,
  owner: string | null = null,
): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    `INSERT INTO upload_sessions (id, repository_id, hash_algorithm, owner)
     SELECT $1, r.id, $3, $4 FROM repositories r WHERE r.name = $2 RETURNING id`,
    [id, repositoryName, hashAlgorithm, owner],
  );
  return rows.length > 0;
}

/**
 * Serialises session openings of one owner until the transaction ends, so that counting its
 * sessions and opening one more cannot interleave with another instance doing the same.
 */
export async function lockUploadOwner(tx: Queryable, owner: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('upload-owner:' || $1))`, [owner]);
}

export async function countOwnedUploadSessions(db: Queryable, owner: string): Promise<number> {
  const rows = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM upload_sessions WHERE owner = $1',
    [owner],
  );
  return rows[0]?.n ?? 0;
}

export async function findUploadSession(
  db: Queryable,
  repositoryName: string,
  id: string,
): Promise<UploadSessionRow | null> {
  const rows = await db.query<UploadSessionRow>(
    `SELECT u.id, u.repository_id, r.name AS repository_name, u.byte_offset, u.hash_algorithm,
            u.hash_state, u.hashed_digest, u.updated_at
     FROM upload_sessions u JOIN repositories r ON r.id = u.repository_id
     WHERE u.id = $1 AND r.name = $2`,
    [id, repositoryName],
  );
  return rows[0] ?? null;
}

/**
 * Moves the session forward from `expectedOffset` to `newOffset` with the hash state that covers
 * exactly the first newOffset bytes. Conditional on the offset, so of two racing writers only one
 * wins; returns false for the loser (its bytes are discarded by the next writeAt).
 */
export async function advanceUploadSession(
  db: Queryable,
  id: string,
  expectedOffset: number,
  newOffset: number,
  hashState: Uint8Array | null,
  hashedDigest: string | null,
): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    `UPDATE upload_sessions SET byte_offset = $3, hash_state = $4, hashed_digest = $5, updated_at = now()
     WHERE id = $1 AND byte_offset = $2 RETURNING id`,
    [id, expectedOffset, newOffset, hashState, hashedDigest],
  );
  return rows.length > 0;
}

export async function deleteUploadSession(db: Queryable, id: string): Promise<boolean> {
  const rows = await db.query<{ id: string }>('DELETE FROM upload_sessions WHERE id = $1 RETURNING id', [id]);
  return rows.length > 0;
}

/** Deletes the session only while it is still untouched since `before` (a purge racing a client). */
export async function deleteIdleUploadSession(db: Queryable, id: string, before: Date): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    'DELETE FROM upload_sessions WHERE id = $1 AND updated_at < $2 RETURNING id',
    [id, before],
  );
  return rows.length > 0;
}

/** Locks the session row until the transaction ends; false when it is gone (purged or finished). */
export async function lockUploadSession(tx: Queryable, id: string): Promise<boolean> {
  const rows = await tx.query('SELECT id FROM upload_sessions WHERE id = $1 FOR UPDATE', [id]);
  return rows.length > 0;
}

export async function countUploadSessions(db: Queryable): Promise<number> {
  const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM upload_sessions');
  return rows[0]?.n ?? 0;
}

export async function listUploadSessionIds(db: Queryable): Promise<Set<string>> {
  const rows = await db.query<{ id: string }>('SELECT id FROM upload_sessions');
  return new Set(rows.map((r) => r.id));
}

/** Sessions untouched since `before`: abandoned uploads to purge. */
export async function staleUploadSessions(db: Queryable, before: Date, limit: number): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    'SELECT id FROM upload_sessions WHERE updated_at < $1 ORDER BY updated_at LIMIT $2',
    [before, limit],
  );
  return rows.map((r) => r.id);
}
