import type { Queryable } from './database.js';

// Project storage quotas: one row per project (made with the project by migration 020's trigger),
// its usage kept exact by the triggers on repository_blobs. This module reads and locks the rows
// and sets limits; it never moves `used` itself.

export interface QuotaRow {
  id: number;
  project_id: number;
  project_name: string;
  owner_name: string | null;
  hard: number;
  used: number;
  created_at: Date;
  updated_at: Date;
}

const SELECT = `SELECT q.id::float8 AS id, q.project_id::float8 AS project_id, p.name AS project_name,
    u.username AS owner_name, q.hard::float8 AS hard, q.used::float8 AS used, q.created_at, q.updated_at
  FROM quotas q JOIN projects p ON p.id = q.project_id LEFT JOIN users u ON u.id = p.owner_id`;

/** A project's quota as a write must respect it, locked until the transaction ends. */
export interface LockedQuota {
  projectId: number;
  project: string;
  hard: number;
  used: number;
}

/**
 * Locks the quota of the repository's project (its first path component) for the rest of the
 * transaction, so a concurrent write into the project waits until this one commits and then sees
 * its usage. Null when the project has no limit (nothing to lock: the triggers still count) or
 * does not exist (the write fails on its own).
 */
export async function lockLimitedQuota(tx: Queryable, repository: string): Promise<LockedQuota | null> {
  // After waiting for the lock, PostgreSQL returns the row as the holder committed it (hard and
  // used are current); reads of other tables belong in later statements (a fresh snapshot).
  const rows = await tx.query<LockedQuota>(
    `SELECT q.project_id::float8 AS "projectId", p.name AS project, q.hard::float8 AS hard,
       q.used::float8 AS used
     FROM quotas q JOIN projects p ON p.id = q.project_id
     WHERE p.name = split_part($1, '/', 1) AND q.hard >= 0 FOR NO KEY UPDATE OF q`,
    [repository],
  );
  return rows[0] ?? null;
}

/** The bytes the blobs would add to the project: those it does not hold yet, each digest once. */
export async function bytesNewToProject(
  tx: Queryable,
  projectId: number,
  blobs: ReadonlyArray<{ digest: string; size: number }>,
): Promise<number> {
  if (blobs.length === 0) return 0;
  const sizes = new Map(blobs.map((b) => [b.digest, b.size]));
  const rows = await tx.query<{ digest: string }>(
    'SELECT digest FROM project_blobs WHERE project_id = $1 AND digest = ANY($2::text[])',
    [projectId, [...sizes.keys()]],
  );
  for (const row of rows) sizes.delete(row.digest);
  let total = 0;
  for (const size of sizes.values()) total += size;
  return total;
}

export interface QuotaListQuery {
  /** Harbor's reference_id: the project's id. */
  projectId: number | null;
  /** Sort key (a column of this module's choosing) and direction. */
  sort: 'hard' | 'used' | 'id' | 'created_at' | 'updated_at';
  descending: boolean;
}

/** One page of quotas with the total. Sorting by usage or limit is what the portal's list does. */
export async function listQuotas(
  db: Queryable,
  query: QuotaListQuery,
  offset: number,
  limit: number,
): Promise<{ items: QuotaRow[]; total: number }> {
  const where = 'WHERE ($1::bigint IS NULL OR q.project_id = $1)';
  const totals = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM quotas q ${where}`, [
    query.projectId,
  ]);
  // The sort column comes from a closed list (the type above), never from the request's text.
  const order = `q.${query.sort} ${query.descending ? 'DESC' : 'ASC'}, q.id ${query.descending ? 'DESC' : 'ASC'}`;
  const items = await db.query<QuotaRow>(`${SELECT} ${where} ORDER BY ${order} LIMIT $2 OFFSET $3`, [
    query.projectId,
    limit,
    offset,
  ]);
  return { items, total: totals[0]?.n ?? 0 };
}

export async function findQuota(db: Queryable, id: number): Promise<QuotaRow | null> {
  const rows = await db.query<QuotaRow>(`${SELECT} WHERE q.id = $1`, [id]);
  return rows[0] ?? null;
}

export async function findProjectQuota(db: Queryable, projectId: number): Promise<QuotaRow | null> {
  const rows = await db.query<QuotaRow>(`${SELECT} WHERE q.project_id = $1`, [projectId]);
  return rows[0] ?? null;
}

/** Sets a project's limit; false when the project has no quota row (it does not exist). */
export async function setProjectQuotaHard(db: Queryable, projectId: number, hard: number): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    'UPDATE quotas SET hard = $2, updated_at = now() WHERE project_id = $1 RETURNING id',
    [projectId, hard],
  );
  return rows.length > 0;
}
