import type { Queryable } from './database.js';

// The queries behind the one delete rule set (services/artifacts/artifact-deletion.ts): which
// manifests a deletion takes with it, which index still lists one of them, and the deletion of
// the rows themselves. The bytes stay in storage for garbage collection.

export interface CascadeRow {
  id: number;
  digest: string;
  media_type: string;
  size: number;
}

const CASCADE_COLUMNS = 'm.id, m.digest, m.media_type, m.size';

/** Accessories (signatures, SBOMs, any referrer) of `subjects` that are not in `cascade` yet. */
export async function accessoriesOf(
  db: Queryable,
  repositoryId: number,
  subjects: readonly string[],
  cascade: readonly number[],
): Promise<CascadeRow[]> {
  if (subjects.length === 0) return [];
  return db.query<CascadeRow>(
    `SELECT ${CASCADE_COLUMNS} FROM manifests m
     WHERE m.repository_id = $1 AND m.subject_digest = ANY($2::text[]) AND NOT (m.id = ANY($3::bigint[]))
     ORDER BY m.id`,
    [repositoryId, subjects, cascade.map(String)],
  );
}

/**
 * Children of the indexes in `cascade` that go with them: not in the cascade yet, without a tag
 * of their own, and listed by no manifest of the repository outside the cascade.
 */
export async function releasedChildren(
  db: Queryable,
  repositoryId: number,
  cascade: readonly number[],
): Promise<CascadeRow[]> {
  return db.query<CascadeRow>(
    `SELECT DISTINCT ${CASCADE_COLUMNS} FROM manifest_references mr
     JOIN manifests m ON m.repository_id = $1 AND m.digest = mr.digest
     WHERE mr.manifest_id = ANY($2::bigint[]) AND mr.kind = 'manifest' AND NOT (m.id = ANY($2::bigint[]))
       AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
       AND NOT EXISTS (SELECT 1 FROM manifest_references o JOIN manifests p ON p.id = o.manifest_id
                       WHERE o.kind = 'manifest' AND o.digest = m.digest AND p.repository_id = $1
                         AND NOT (p.id = ANY($2::bigint[])))
     ORDER BY m.id`,
    [repositoryId, cascade.map(String)],
  );
}

export interface ListedBy {
  digest: string;
  index_digest: string;
}

/** Manifests of `cascade` that an index of the repository outside the cascade lists. */
export async function listedOutside(
  db: Queryable,
  repositoryId: number,
  cascade: readonly number[],
): Promise<ListedBy[]> {
  return db.query<ListedBy>(
    `SELECT m.digest, p.digest AS index_digest FROM manifests m
     JOIN manifest_references mr ON mr.kind = 'manifest' AND mr.digest = m.digest
     JOIN manifests p ON p.id = mr.manifest_id AND p.repository_id = $1
     WHERE m.repository_id = $1 AND m.id = ANY($2::bigint[]) AND NOT (p.id = ANY($2::bigint[]))
     ORDER BY m.digest, p.digest LIMIT 10`,
    [repositoryId, cascade.map(String)],
  );
}

/** Tag names of each manifest (those without tags are absent). */
export async function tagNamesOf(
  db: Queryable,
  manifestIds: readonly number[],
): Promise<Map<number, string[]>> {
  if (manifestIds.length === 0) return new Map();
  const rows = await db.query<{ manifest_id: number; name: string }>(
    'SELECT manifest_id, name FROM tags WHERE manifest_id = ANY($1::bigint[]) ORDER BY name',
    [manifestIds.map(String)],
  );
  const out = new Map<number, string[]>();
  for (const row of rows) {
    const id = Number(row.manifest_id);
    out.set(id, [...(out.get(id) ?? []), row.name]);
  }
  return out;
}

/**
 * Deletes manifests: tombstones for their tags first (two-way replication must never bring a
 * tag back), then the rows (tags and references cascade), then the repository's links to the
 * manifests' own bytes. Layer and config links stay, as for a single delete.
 */
export async function deleteManifestRows(
  db: Queryable,
  repositoryId: number,
  repositoryName: string,
  manifests: readonly CascadeRow[],
): Promise<void> {
  if (manifests.length === 0) return;
  const ids = manifests.map((m) => String(m.id));
  await db.query(
    `INSERT INTO replication_tombstones (repository, tag, digest, deleted_at)
     SELECT $1, t.name, m.digest, now() FROM tags t JOIN manifests m ON m.id = t.manifest_id
     WHERE t.manifest_id = ANY($2::bigint[])
     ON CONFLICT (repository, tag) DO UPDATE SET digest = EXCLUDED.digest, deleted_at = EXCLUDED.deleted_at`,
    [repositoryName, ids],
  );
  await db.query('DELETE FROM manifests WHERE id = ANY($1::bigint[])', [ids]);
  await db.query('DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = ANY($2::text[])', [
    repositoryId,
    manifests.map((m) => m.digest),
  ]);
  await db.query('UPDATE repositories SET updated_at = now() WHERE id = $1', [repositoryId]);
}

export interface ManifestWithTags extends CascadeRow {
  tags: string[];
}

/** Every manifest of a repository with its tags (what a repository deletion removes). */
export async function manifestsWithTags(db: Queryable, repositoryId: number): Promise<ManifestWithTags[]> {
  const rows = await db.query<CascadeRow>(
    `SELECT ${CASCADE_COLUMNS} FROM manifests m WHERE m.repository_id = $1 ORDER BY m.id`,
    [repositoryId],
  );
  const tags = await tagNamesOf(
    db,
    rows.map((r) => Number(r.id)),
  );
  return rows.map((r) => ({ ...r, tags: tags.get(Number(r.id)) ?? [] }));
}
