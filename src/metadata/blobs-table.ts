import type { Queryable } from './database.js';

export interface BlobRow {
  digest: string;
  size: number;
}

/** Records that the bytes of `digest` are durable in storage. Idempotent. */
export async function insertBlob(db: Queryable, digest: string, size: number): Promise<void> {
  await db.query('INSERT INTO blobs (digest, size) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING', [
    digest,
    size,
  ]);
}

export async function findBlob(db: Queryable, digest: string): Promise<BlobRow | null> {
  const rows = await db.query<BlobRow>('SELECT digest, size FROM blobs WHERE digest = $1', [digest]);
  return rows[0] ?? null;
}

/**
 * Lets a repository see a blob. Idempotent; a link made again counts as new (created_at now), so
 * GC's grace period protects a blob pushed again from the moment of the push.
 */
export async function linkBlob(db: Queryable, repositoryId: number, digest: string): Promise<void> {
  await db.query(
    `INSERT INTO repository_blobs (repository_id, digest) VALUES ($1, $2)
     ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = now()`,
    [repositoryId, digest],
  );
}

/**
 * Some repositories that may see a blob (replication's mount candidates), whose names start
 * with `prefix` when given (e.g. `project/`). Unordered: any holder will do.
 */
export async function repositoriesHoldingBlob(
  db: Queryable,
  digest: string,
  limit: number,
  prefix = '',
): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
     WHERE rb.digest = $1 AND left(r.name, length($3)) = $3 LIMIT $2`,
    [digest, limit, prefix],
  );
  return rows.map((r) => r.name);
}

/** The blob if `repositoryName` may see it, in one indexed query (the blob HEAD/GET hot path). */
export async function findLinkedBlob(
  db: Queryable,
  repositoryName: string,
  digest: string,
): Promise<BlobRow | null> {
  const rows = await db.query<BlobRow>(
    `SELECT b.digest, b.size FROM blobs b
     JOIN repository_blobs rb ON rb.digest = b.digest
     JOIN repositories r ON r.id = rb.repository_id
     WHERE r.name = $1 AND b.digest = $2`,
    [repositoryName, digest],
  );
  return rows[0] ?? null;
}

/** Which of `digests` the repository may see. */
export async function linkedDigests(
  db: Queryable,
  repositoryId: number,
  digests: readonly string[],
): Promise<Set<string>> {
  return digestsPresent(db, 'repository_blobs', repositoryId, digests);
}

/**
 * Which of `digests` a per-repository table (repository_id, digest) holds for the repository.
 * The table name is one of a fixed set, never input.
 */
export async function digestsPresent(
  db: Queryable,
  table: 'repository_blobs' | 'manifests',
  repositoryId: number,
  digests: readonly string[],
): Promise<Set<string>> {
  if (digests.length === 0) return new Set();
  const rows = await db.query<{ digest: string }>(
    `SELECT digest FROM ${table} WHERE repository_id = $1 AND digest = ANY($2::text[])`,
    [repositoryId, digests],
  );
  return new Set(rows.map((r) => r.digest));
}

export async function unlinkBlob(db: Queryable, repositoryId: number, digest: string): Promise<boolean> {
  const rows = await db.query<{ digest: string }>(
    'DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2 RETURNING digest',
    [repositoryId, digest],
  );
  return rows.length > 0;
}

export async function listBlobs(db: Queryable, after: string | undefined, limit: number): Promise<BlobRow[]> {
  return db.query<BlobRow>(
    'SELECT digest, size FROM blobs WHERE ($1::text IS NULL OR digest > $1) ORDER BY digest LIMIT $2',
    [after ?? null, limit],
  );
}

export async function deleteBlobRow(db: Queryable, digest: string): Promise<void> {
  await db.query('DELETE FROM blobs WHERE digest = $1', [digest]);
}

/**
 * Records durable bytes and makes them visible in a repository, in one statement (atomic, one
 * round trip: the push hot path). With `uploadSessionId`, the finished session goes in the same
 * statement. Idempotent.
 */
export async function commitBlob(
  db: Queryable,
  repositoryId: number,
  digest: string,
  size: number,
  uploadSessionId: string | null,
): Promise<void> {
  await db.query(
    `WITH blob AS (
       INSERT INTO blobs (digest, size) VALUES ($2, $3) ON CONFLICT (digest) DO NOTHING
     ), link AS (
       INSERT INTO repository_blobs (repository_id, digest) VALUES ($1, $2)
       ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = now()
     )
     DELETE FROM upload_sessions WHERE id = $4::uuid`,
    [repositoryId, digest, size, uploadSessionId],
  );
}
