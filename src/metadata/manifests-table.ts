import { digestsPresent } from './blobs-table.js';
import type { Queryable } from './database.js';

export interface ManifestRow {
  id: number;
  digest: string;
  media_type: string;
  size: number;
}

export interface ManifestReference {
  digest: string;
  kind: 'config' | 'layer' | 'manifest' | 'subject';
}

export interface NewManifest {
  repositoryId: number;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  subjectDigest: string | null;
  annotations: Record<string, string> | null;
  references: readonly ManifestReference[];
}

/** Inserts (or finds) the manifest row and its references. Idempotent for the same digest. */
export async function upsertManifest(db: Queryable, m: NewManifest): Promise<ManifestRow> {
  const inserted = await db.query<ManifestRow>(
    `INSERT INTO manifests (repository_id, digest, media_type, artifact_type, size, subject_digest, annotations)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (repository_id, digest) DO NOTHING
     RETURNING id, digest, media_type, size`,
    [
      m.repositoryId,
      m.digest,
      m.mediaType,
      m.artifactType,
      m.size,
      m.subjectDigest,
      m.annotations ? JSON.stringify(m.annotations) : null,
    ],
  );
  const row = inserted[0];
  if (!row) {
    const existing = await findManifestByDigest(db, m.repositoryId, m.digest);
    if (!existing) throw new Error(`manifest ${m.digest} vanished while being stored`);
    return existing;
  }
  if (m.references.length > 0) {
    await db.query(
      `INSERT INTO manifest_references (manifest_id, digest, kind)
       SELECT $1, d, k FROM unnest($2::text[], $3::text[]) AS t(d, k)
       ON CONFLICT DO NOTHING`,
      [row.id, m.references.map((r) => r.digest), m.references.map((r) => r.kind)],
    );
  }
  return row;
}

export async function findManifestByDigest(
  db: Queryable,
  repositoryId: number,
  digest: string,
): Promise<ManifestRow | null> {
  const rows = await db.query<ManifestRow>(
    'SELECT id, digest, media_type, size FROM manifests WHERE repository_id = $1 AND digest = $2',
    [repositoryId, digest],
  );
  return rows[0] ?? null;
}

/** Resolves a tag or digest in a repository by name, in one indexed query (the pull hot path). */
export async function resolveManifest(
  db: Queryable,
  repositoryName: string,
  reference: { tag: string } | { digest: string },
): Promise<ManifestRow | null> {
  const rows =
    'tag' in reference
      ? await db.query<ManifestRow>(
          `SELECT m.id, m.digest, m.media_type, m.size FROM repositories r
           JOIN tags t ON t.repository_id = r.id AND t.name = $2
           JOIN manifests m ON m.id = t.manifest_id
           WHERE r.name = $1`,
          [repositoryName, reference.tag],
        )
      : await db.query<ManifestRow>(
          `SELECT m.id, m.digest, m.media_type, m.size FROM repositories r
           JOIN manifests m ON m.repository_id = r.id AND m.digest = $2
           WHERE r.name = $1`,
          [repositoryName, reference.digest],
        );
  return rows[0] ?? null;
}

/** Which of `digests` exist as manifests in the repository (children of an index). */
export async function existingManifestDigests(
  db: Queryable,
  repositoryId: number,
  digests: readonly string[],
): Promise<Set<string>> {
  return digestsPresent(db, 'manifests', repositoryId, digests);
}

/**
 * Points a tag at a manifest, creating or moving it. Says which: 'unchanged' when the tag already
 * pointed there (a push that re-states a tag moves nothing, so it announces nothing).
 */
export async function setTag(
  db: Queryable,
  repositoryId: number,
  tag: string,
  manifestId: number,
): Promise<'created' | 'moved' | 'unchanged'> {
  const rows = await db.query<{ previous: number | null }>(
    `WITH prev AS (SELECT manifest_id FROM tags WHERE repository_id = $1 AND name = $2)
     INSERT INTO tags (repository_id, name, manifest_id) VALUES ($1, $2, $3)
     ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = EXCLUDED.manifest_id, updated_at = now()
     RETURNING (SELECT manifest_id FROM prev) AS previous`,
    [repositoryId, tag, manifestId],
  );
  const previous = rows[0]?.previous ?? null;
  if (previous === null) return 'created';
  return Number(previous) === Number(manifestId) ? 'unchanged' : 'moved';
}

/** Creates a tag unless the repository has one of that name already; true when created. */
export async function insertTagIfAbsent(
  db: Queryable,
  repositoryId: number,
  tag: string,
  manifestId: number,
): Promise<boolean> {
  const rows = await db.query<{ name: string }>(
    `INSERT INTO tags (repository_id, name, manifest_id) VALUES ($1, $2, $3)
     ON CONFLICT (repository_id, name) DO NOTHING RETURNING name`,
    [repositoryId, tag, manifestId],
  );
  return rows.length > 0;
}

/** One page of tag names in byte order after `last`. Index range scan on (repository_id, name). */
export async function listTags(
  db: Queryable,
  repositoryId: number,
  last: string | undefined,
  limit: number,
): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT name FROM tags WHERE repository_id = $1 AND ($2::text IS NULL OR name > $2)
     ORDER BY name LIMIT $3`,
    [repositoryId, last ?? null, limit],
  );
  return rows.map((r) => r.name);
}

export interface ReferrerRow {
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  annotations: Record<string, string> | null;
}

export async function listReferrers(
  db: Queryable,
  repositoryId: number,
  subjectDigest: string,
  artifactType: string | undefined,
): Promise<ReferrerRow[]> {
  return db.query<ReferrerRow>(
    `SELECT digest, media_type, size, artifact_type, annotations FROM manifests
     WHERE repository_id = $1 AND subject_digest = $2 AND ($3::text IS NULL OR artifact_type = $3)
     ORDER BY created_at, digest`,
    [repositoryId, subjectDigest, artifactType ?? null],
  );
}

/** Every manifest digest the metadata knows of (for fsck). */
export async function allManifestDigests(db: Queryable): Promise<Set<string>> {
  const rows = await db.query<{ digest: string }>('SELECT DISTINCT digest FROM manifests');
  return new Set(rows.map((r) => r.digest));
}
