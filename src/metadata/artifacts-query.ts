import type { Queryable } from './database.js';
import { TAG_PUSH_TIME_SQL } from './tombstones-table.js';

// Read models of the management API's repository and artifact views (Harbor's /repositories,
// /artifacts, /search, /statistics). Every page is a bounded query over indexed columns; the
// per-page details (tags, sizes, children) are fetched for the page's ids only.
//
// "Top-level" artifacts, as Harbor lists them: not a child of an index in the same repository and
// not an accessory (a manifest with a subject). `q=base=*` lists every manifest.

export interface RepositoryListRow {
  id: number;
  project_id: number;
  name: string;
  description: string;
  pull_count: number;
  artifact_count: number;
  created_at: Date;
  updated_at: Date;
}

/** Which projects a cross-project listing covers: null means every project (system administrators). */
export type ProjectScope = readonly number[] | null;

const TOP_LEVEL = `m.subject_digest IS NULL AND NOT EXISTS (
  SELECT 1 FROM manifest_references mr JOIN manifests parent ON parent.id = mr.manifest_id
  WHERE mr.kind = 'manifest' AND mr.digest = m.digest AND parent.repository_id = m.repository_id)`;

const ARTIFACT_COUNT = `(SELECT count(*)::int FROM manifests m WHERE m.repository_id = r.id AND ${TOP_LEVEL})`;

function scopeParam(scope: ProjectScope): readonly string[] | null {
  return scope === null ? null : scope.map(String);
}

export interface RepositoryFilter {
  /** Exact full name. */
  name?: string;
  /** Substring of the full name. */
  nameLike?: string;
}

/** One page of repositories in the projects of `scope`, by name, with the total. */
export async function listRepositories(
  db: Queryable,
  scope: ProjectScope,
  filter: RepositoryFilter,
  offset: number,
  limit: number,
): Promise<{ items: RepositoryListRow[]; total: number }> {
  const where = `($1::bigint[] IS NULL OR r.project_id = ANY($1::bigint[]))
    AND ($2::text IS NULL OR r.name = $2)
    AND ($3::text IS NULL OR strpos(r.name, $3) > 0)`;
  const params = [scopeParam(scope), filter.name ?? null, filter.nameLike ?? null];
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM repositories r WHERE ${where}`,
    params,
  );
  const items = await db.query<RepositoryListRow>(
    `SELECT r.id, r.project_id, r.name, r.description, r.pull_count, r.created_at, r.updated_at, ${ARTIFACT_COUNT} AS artifact_count
     FROM repositories r WHERE ${where} ORDER BY r.name LIMIT $4 OFFSET $5`,
    [...params, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

export async function findRepositoryInProject(
  db: Queryable,
  projectId: number,
  name: string,
): Promise<RepositoryListRow | null> {
  const rows = await db.query<RepositoryListRow>(
    `SELECT r.id, r.project_id, r.name, r.description, r.pull_count, r.created_at, r.updated_at, ${ARTIFACT_COUNT} AS artifact_count
     FROM repositories r WHERE r.project_id = $1 AND r.name = $2`,
    [projectId, name],
  );
  return rows[0] ?? null;
}

/** Deletes a repository's rows (manifests, tags, references, blob links cascade); bytes stay for GC. */
export async function deleteRepositoryRows(db: Queryable, repositoryId: number): Promise<void> {
  await db.query('DELETE FROM repositories WHERE id = $1', [repositoryId]);
}

export interface ArtifactRow {
  id: number;
  repository_id: number;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  size: number;
  annotations: Record<string, string> | null;
  created_at: Date;
  pull_time: Date | null;
}

export interface ArtifactFilter {
  /** Exact tag; '*' any tag, 'nil' untagged (Harbor's q=tags=...). */
  tag?: string;
  /** Substring of a tag. */
  tagLike?: string;
  /** Every manifest, not only the top-level ones (q=base=*). */
  all?: boolean;
}

const ARTIFACT_COLUMNS =
  'm.id, m.repository_id, m.digest, m.media_type, m.artifact_type, m.size, m.annotations, m.created_at, m.pull_time';

/** One page of a repository's artifacts, newest first, with the total. */
export async function listArtifacts(
  db: Queryable,
  repositoryId: number,
  filter: ArtifactFilter,
  offset: number,
  limit: number,
): Promise<{ items: ArtifactRow[]; total: number }> {
  const tagExact = filter.tag !== undefined && filter.tag !== '*' && filter.tag !== 'nil' ? filter.tag : null;
  const where = `m.repository_id = $1
    AND ($2::boolean OR (${TOP_LEVEL}))
    AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.manifest_id = m.id AND t.name = $3))
    AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.manifest_id = m.id AND strpos(t.name, $4) > 0))
    AND ($5::text IS NULL
      OR ($5 = '*' AND EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id))
      OR ($5 = 'nil' AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)))`;
  const params = [
    repositoryId,
    filter.all ?? false,
    tagExact,
    filter.tagLike ?? null,
    filter.tag === '*' || filter.tag === 'nil' ? filter.tag : null,
  ];
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM manifests m WHERE ${where}`,
    params,
  );
  const items = await db.query<ArtifactRow>(
    `SELECT ${ARTIFACT_COLUMNS} FROM manifests m WHERE ${where}
     ORDER BY m.created_at DESC, m.id DESC LIMIT $6 OFFSET $7`,
    [...params, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

export async function findArtifactByDigest(
  db: Queryable,
  repositoryId: number,
  digest: string,
): Promise<ArtifactRow | null> {
  const rows = await db.query<ArtifactRow>(
    `SELECT ${ARTIFACT_COLUMNS} FROM manifests m WHERE m.repository_id = $1 AND m.digest = $2`,
    [repositoryId, digest],
  );
  return rows[0] ?? null;
}

export async function findArtifactByTag(
  db: Queryable,
  repositoryId: number,
  tag: string,
): Promise<ArtifactRow | null> {
  const rows = await db.query<ArtifactRow>(
    `SELECT ${ARTIFACT_COLUMNS} FROM tags t JOIN manifests m ON m.id = t.manifest_id
     WHERE t.repository_id = $1 AND t.name = $2`,
    [repositoryId, tag],
  );
  return rows[0] ?? null;
}

export interface TagRow {
  manifest_id: number;
  repository_id: number;
  name: string;
  /** The push time: the origin's for a tag replication wrote (tombstones-table.ts). */
  updated_at: Date;
  pull_time: Date | null;
}

/** Tags of the given manifests, by name. */
export async function tagsOfManifests(db: Queryable, manifestIds: readonly number[]): Promise<TagRow[]> {
  if (manifestIds.length === 0) return [];
  return db.query<TagRow>(
    `SELECT t.manifest_id, t.repository_id, t.name, ${TAG_PUSH_TIME_SQL} AS updated_at, t.pull_time FROM tags t
     WHERE t.manifest_id = ANY($1::bigint[]) ORDER BY t.name`,
    [manifestIds.map(String)],
  );
}

/** One page of one manifest's tags, by name, with the total. */
export async function listTagsOfManifest(
  db: Queryable,
  manifestId: number,
  nameLike: string | undefined,
  offset: number,
  limit: number,
): Promise<{ items: TagRow[]; total: number }> {
  const where = `manifest_id = $1 AND ($2::text IS NULL OR strpos(name, $2) > 0)`;
  const params = [manifestId, nameLike ?? null];
  const total = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tags WHERE ${where}`, params);
  const items = await db.query<TagRow>(
    `SELECT t.manifest_id, t.repository_id, t.name, ${TAG_PUSH_TIME_SQL} AS updated_at, t.pull_time FROM tags t WHERE ${where} ORDER BY t.name LIMIT $3 OFFSET $4`,
    [...params, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

/**
 * Bytes of each manifest with what it references: the manifest, its config and layers (blobs
 * this registry holds; foreign layers count 0) and, for an index, each child's own such total.
 */
export async function artifactSizes(
  db: Queryable,
  manifestIds: readonly number[],
): Promise<Map<number, number>> {
  if (manifestIds.length === 0) return new Map();
  const rows = await db.query<{ id: number; size: number }>(
    `WITH own AS (
       SELECT m.id, m.repository_id, m.digest, m.size + COALESCE((
         SELECT sum(b.size) FROM manifest_references mr JOIN blobs b ON b.digest = mr.digest
         WHERE mr.manifest_id = m.id AND mr.kind IN ('config', 'layer')), 0) AS total
       FROM manifests m
       WHERE m.id = ANY($1::bigint[])
          OR m.id IN (SELECT c.id FROM manifests p JOIN manifest_references mr ON mr.manifest_id = p.id AND mr.kind = 'manifest'
                      JOIN manifests c ON c.repository_id = p.repository_id AND c.digest = mr.digest
                      WHERE p.id = ANY($1::bigint[])))
     SELECT o.id, (o.total + COALESCE((
       SELECT sum(c.total) FROM manifest_references mr JOIN own c ON c.digest = mr.digest AND c.repository_id = o.repository_id
       WHERE mr.manifest_id = o.id AND mr.kind = 'manifest'), 0))::float8 AS size
     FROM own o WHERE o.id = ANY($1::bigint[])`,
    [manifestIds.map(String)],
  );
  return new Map(rows.map((r) => [r.id, r.size]));
}

export interface ChildRow {
  parent_id: number;
  child_id: number;
  child_digest: string;
}

/** Children of the given indexes that exist in the same repository. */
export async function childrenOf(db: Queryable, manifestIds: readonly number[]): Promise<ChildRow[]> {
  if (manifestIds.length === 0) return [];
  return db.query<ChildRow>(
    `SELECT p.id AS parent_id, c.id AS child_id, c.digest AS child_digest
     FROM manifests p JOIN manifest_references mr ON mr.manifest_id = p.id AND mr.kind = 'manifest'
     JOIN manifests c ON c.repository_id = p.repository_id AND c.digest = mr.digest
     WHERE p.id = ANY($1::bigint[]) ORDER BY p.id, c.id`,
    [manifestIds.map(String)],
  );
}

/** Search: repositories whose full name contains `needle`, in the projects of `scope`. */
export async function searchRepositories(
  db: Queryable,
  scope: ProjectScope,
  needle: string,
  limit: number,
): Promise<RepositoryListRow[]> {
  return db.query<RepositoryListRow>(
    `SELECT r.id, r.project_id, r.name, r.description, r.pull_count, r.created_at, r.updated_at, ${ARTIFACT_COUNT} AS artifact_count
     FROM repositories r
     WHERE ($1::bigint[] IS NULL OR r.project_id = ANY($1::bigint[])) AND strpos(r.name, $2) > 0
     ORDER BY r.name LIMIT $3`,
    [scopeParam(scope), needle, limit],
  );
}

/** Repository counts per project of `scope` (projects without repositories are absent). */
export async function repositoryCountsByProject(
  db: Queryable,
  scope: ProjectScope,
): Promise<Map<number, number>> {
  const rows = await db.query<{ project_id: number; n: number }>(
    `SELECT project_id, count(*)::int AS n FROM repositories
     WHERE ($1::bigint[] IS NULL OR project_id = ANY($1::bigint[])) GROUP BY project_id`,
    [scopeParam(scope)],
  );
  return new Map(rows.map((r) => [r.project_id, r.n]));
}

/** Bytes of every distinct blob the metadata knows (manifests included). */
export async function totalStoredBytes(db: Queryable): Promise<number> {
  const rows = await db.query<{ bytes: number }>('SELECT COALESCE(sum(size), 0)::float8 AS bytes FROM blobs');
  return rows[0]?.bytes ?? 0;
}

export async function setRepositoryDescription(
  db: Queryable,
  repositoryId: number,
  description: string,
): Promise<void> {
  await db.query('UPDATE repositories SET description = $2, updated_at = now() WHERE id = $1', [
    repositoryId,
    description,
  ]);
}
