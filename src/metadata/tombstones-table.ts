import { ABSENT, type TagState } from '../domain/tag-versions.js';
import type { Queryable } from './database.js';

// Two-way replication's tag records (migration 008): tombstones of deleted tags and the origin
// push times of tags that replication copied here. The replication planner reads both for this
// registry, and peers read them through the Wharf extension API (/replication/tombstones).

export interface TombstoneRow {
  repository: string;
  tag: string;
  digest: string;
  deleted_at: Date;
}

/**
 * A tag's push time as the API and the planner see it, for `tags t` (joined to nothing else):
 * the origin's push time when replication wrote the tag and nobody pushed it since, else the
 * tag row's own update time (set on every push that moves or re-writes the tag).
 */
export const TAG_PUSH_TIME_SQL = `COALESCE((SELECT rt.origin_push_time FROM replicated_tags rt
  WHERE rt.repository_id = t.repository_id AND rt.tag = t.name AND rt.manifest_id = t.manifest_id
    AND rt.recorded_at >= t.updated_at), t.updated_at)`;

/**
 * Deletes a tag and records its tombstone in one statement (so no deletion goes unrecorded).
 * Returns the digest the tag pointed at; null when there was no such tag (or, with `onlyIfDigest`,
 * when the tag points at another manifest).
 */
export async function deleteTagWithTombstone(
  db: Queryable,
  repositoryId: number,
  repository: string,
  tag: string,
  onlyIfDigest?: string,
): Promise<string | null> {
  const rows = await db.query<{ digest: string }>(
    `WITH gone AS (
       DELETE FROM tags t WHERE t.repository_id = $1 AND t.name = $3
         AND ($4::text IS NULL OR t.manifest_id = (SELECT m.id FROM manifests m WHERE m.repository_id = $1 AND m.digest = $4))
       RETURNING t.name, t.manifest_id
     )
     INSERT INTO replication_tombstones (repository, tag, digest, deleted_at)
     SELECT $2, g.name, m.digest, now() FROM gone g JOIN manifests m ON m.id = g.manifest_id
     ON CONFLICT (repository, tag) DO UPDATE SET digest = EXCLUDED.digest, deleted_at = EXCLUDED.deleted_at
     RETURNING digest`,
    [repositoryId, repository, tag, onlyIfDigest ?? null],
  );
  return rows[0]?.digest ?? null;
}

/**
 * Replication's deletion of a tag made at its origin at `deletedAt`: the tag goes (its tombstone
 * keeping that time) unless it was pushed here later (a deletion beats a push at the same time).
 * One statement, the tag row locked, so a concurrent push is either before it or after it.
 */
export async function deleteTagUnlessLater(
  db: Queryable,
  repositoryId: number,
  repository: string,
  tag: string,
  deletedAt: Date,
): Promise<{ outcome: 'deleted' | 'superseded' | 'absent'; digest: string | null }> {
  const rows = await db.query<{ found: number; deleted: number; digest: string | null }>(
    `WITH target AS (
       SELECT t.repository_id, t.name, t.manifest_id, ${TAG_PUSH_TIME_SQL} AS pushed_at
       FROM tags t WHERE t.repository_id = $1 AND t.name = $3 FOR UPDATE
     ), gone AS (
       DELETE FROM tags t USING target g
       WHERE t.repository_id = g.repository_id AND t.name = g.name AND g.pushed_at <= $4
       RETURNING t.name, t.manifest_id
     ), stone AS (
       INSERT INTO replication_tombstones (repository, tag, digest, deleted_at)
       SELECT $2, g.name, m.digest, $4 FROM gone g JOIN manifests m ON m.id = g.manifest_id
       ON CONFLICT (repository, tag) DO UPDATE SET digest = EXCLUDED.digest, deleted_at = EXCLUDED.deleted_at
       RETURNING tag, digest
     )
     SELECT (SELECT count(*) FROM target)::int AS found, (SELECT count(*) FROM stone)::int AS deleted,
       (SELECT digest FROM stone LIMIT 1) AS digest`,
    [repositoryId, repository, tag, deletedAt],
  );
  const row = rows[0];
  if (!row || row.found === 0) return { outcome: 'absent', digest: null };
  return row.deleted > 0
    ? { outcome: 'deleted', digest: row.digest }
    : { outcome: 'superseded', digest: null };
}

/** The tombstones of a repository deleted after `since` (older ones have expired). */
export async function listTombstones(
  db: Queryable,
  repository: string,
  since: Date,
  /** Only this tag's. */
  tag?: string,
): Promise<TombstoneRow[]> {
  return db.query<TombstoneRow>(
    `SELECT repository, tag, digest, deleted_at FROM replication_tombstones
     WHERE repository = $1 AND deleted_at > $2 AND ($3::text IS NULL OR tag = $3) ORDER BY tag`,
    [repository, since, tag ?? null],
  );
}

/**
 * Records a deletion that happened elsewhere (replication deleted the tag here on the origin's
 * behalf) with the origin's time. Nothing when the tag exists here (then it was pushed again and
 * the planner compares that push with the deletion). True when recorded.
 */
export async function putTombstone(
  db: Queryable,
  t: Omit<TombstoneRow, 'repository'> & { repository: string },
): Promise<boolean> {
  const rows = await db.query<{ tag: string }>(
    `INSERT INTO replication_tombstones (repository, tag, digest, deleted_at)
     SELECT $1, $2, $3, $4
     WHERE NOT EXISTS (SELECT 1 FROM repositories r JOIN tags t ON t.repository_id = r.id
                       WHERE r.name = $1 AND t.name = $2)
     ON CONFLICT (repository, tag) DO UPDATE SET digest = EXCLUDED.digest, deleted_at = EXCLUDED.deleted_at
     RETURNING tag`,
    [t.repository, t.tag, t.digest, t.deleted_at],
  );
  return rows.length > 0;
}

/** Removes tombstones deleted at or before `before`; returns how many. */
export async function purgeTombstones(db: Queryable, before: Date): Promise<number> {
  const rows = await db.query<{ tag: string }>(
    'DELETE FROM replication_tombstones WHERE deleted_at <= $1 RETURNING tag',
    [before],
  );
  return rows.length;
}

export interface TagOrigin {
  repository: string;
  tag: string;
  digest: string;
  pushTime: Date;
  origin: string;
}

/**
 * Records the origin push time of a tag that replication just wrote here; only while the tag
 * points at that digest (a later push here is a newer version and keeps its own time).
 */
export async function recordTagOrigin(db: Queryable, o: TagOrigin): Promise<boolean> {
  const rows = await db.query<{ tag: string }>(
    `INSERT INTO replicated_tags (repository_id, tag, manifest_id, origin_push_time, origin)
     SELECT t.repository_id, t.name, t.manifest_id, $4, $5
     FROM repositories r JOIN tags t ON t.repository_id = r.id JOIN manifests m ON m.id = t.manifest_id
     WHERE r.name = $1 AND t.name = $2 AND m.digest = $3
     ON CONFLICT (repository_id, tag) DO UPDATE SET manifest_id = EXCLUDED.manifest_id,
       origin_push_time = EXCLUDED.origin_push_time, origin = EXCLUDED.origin, recorded_at = now()
     RETURNING tag`,
    [o.repository, o.tag, o.digest, o.pushTime, o.origin],
  );
  return rows.length > 0;
}

export interface LocalTagState {
  digest: string;
  pushedAt: Date;
}

/** tag → digest and push time (origin-corrected) of one repository of this registry. */
export async function localTagStates(
  db: Queryable,
  repository: string,
  /** Only this tag's. */
  tag?: string,
): Promise<Map<string, LocalTagState>> {
  const rows = await db.query<{ name: string; digest: string; pushed_at: Date }>(
    `SELECT t.name, m.digest, ${TAG_PUSH_TIME_SQL} AS pushed_at FROM repositories r
     JOIN tags t ON t.repository_id = r.id JOIN manifests m ON m.id = t.manifest_id
     WHERE r.name = $1 AND ($2::text IS NULL OR t.name = $2)`,
    [repository, tag ?? null],
  );
  return new Map(rows.map((r) => [r.name, { digest: r.digest, pushedAt: r.pushed_at }]));
}

/** Tombstones for every tag of a repository that is being deleted as a whole. */
export async function recordTombstonesOfRepository(db: Queryable, repositoryId: number): Promise<void> {
  await db.query(
    `INSERT INTO replication_tombstones (repository, tag, digest, deleted_at)
     SELECT r.name, t.name, m.digest, now() FROM repositories r
     JOIN tags t ON t.repository_id = r.id JOIN manifests m ON m.id = t.manifest_id
     WHERE r.id = $1
     ON CONFLICT (repository, tag) DO UPDATE SET digest = EXCLUDED.digest, deleted_at = EXCLUDED.deleted_at`,
    [repositoryId],
  );
}

/**
 * Repositories gone from this registry that still have unexpired tombstones, in name order after
 * `after`: a reconciliation visits them so their deletions reach the peers.
 */
export async function listTombstonedRepositories(
  db: Queryable,
  since: Date,
  after: string | undefined,
  limit: number,
): Promise<string[]> {
  const rows = await db.query<{ repository: string }>(
    `SELECT DISTINCT t.repository FROM replication_tombstones t
     WHERE t.deleted_at > $1 AND ($2::text IS NULL OR t.repository > $2)
       AND NOT EXISTS (SELECT 1 FROM repositories r WHERE r.name = t.repository)
     ORDER BY t.repository LIMIT $3`,
    [since, after ?? null, limit],
  );
  return rows.map((r) => r.repository);
}

/**
 * The version of one tag a replicated write competes with, its row locked until the end of the
 * transaction (a concurrent push of the tag waits): the tag's digest and push time, else its
 * unexpired tombstone, else absent.
 */
export async function lockedTagVersion(
  db: Queryable,
  repositoryId: number,
  repository: string,
  tag: string,
  tombstonesSince: Date,
): Promise<TagState> {
  const rows = await db.query<{ digest: string; pushed_at: Date }>(
    `SELECT m.digest, ${TAG_PUSH_TIME_SQL} AS pushed_at FROM tags t JOIN manifests m ON m.id = t.manifest_id
     WHERE t.repository_id = $1 AND t.name = $2 FOR UPDATE OF t`,
    [repositoryId, tag],
  );
  const row = rows[0];
  if (row) return { kind: 'present', digest: row.digest, pushedAt: row.pushed_at.getTime() };
  const tombstones = await db.query<{ deleted_at: Date }>(
    'SELECT deleted_at FROM replication_tombstones WHERE repository = $1 AND tag = $2 AND deleted_at > $3',
    [repository, tag, tombstonesSince],
  );
  const tombstone = tombstones[0];
  return tombstone ? { kind: 'deleted', deletedAt: tombstone.deleted_at.getTime() } : ABSENT;
}
