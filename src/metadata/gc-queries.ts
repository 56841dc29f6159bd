import type { Queryable } from './database.js';

// The SQL of online garbage collection (services/gc, docs/lifecycle.md). Candidates are found
// with plain reads, page by page (keyset, so a page never scans what was already seen); every
// deletion is then decided again by a statement that repeats the whole condition, run by the
// caller under the blob's exclusive lock (blob-guard.ts), so a reference made in between wins.

/** What a dry run treats as deleted already: manifests of step 1 and links of step 2. */
export interface GcExclusions {
  manifestIds: readonly number[];
  links: readonly { repositoryId: number; digest: string }[];
}

export const NO_EXCLUSIONS: GcExclusions = { manifestIds: [], links: [] };

// Exclusions are written `x NOT IN (SELECT unnest($n))`: PostgreSQL hashes such a subquery once,
// where `<> ALL($n)` would compare every row with the whole list (a dry run may exclude thousands).

/** The database's now() minus the grace period: one clock for every decision of a run. */
export async function gcCutoff(db: Queryable, graceMinutes: number): Promise<Date> {
  const rows = await db.query<{ cutoff: Date }>(
    `SELECT now() - $1::double precision * interval '1 minute' AS cutoff`,
    [graceMinutes],
  );
  const cutoff = rows[0]?.cutoff;
  if (!cutoff) throw new Error('the database returned no time');
  return new Date(cutoff);
}

// ---- step 0: markers left by a run that was killed between its two phases

export interface DoomedBlob {
  digest: string;
  size: number;
}

export async function doomedBlobs(db: Queryable, after: string | null, limit: number): Promise<DoomedBlob[]> {
  const rows = await db.query<{ digest: string; size: string }>(
    `SELECT digest, size FROM gc_doomed_blobs WHERE ($1::text IS NULL OR digest > $1)
     ORDER BY digest LIMIT $2`,
    [after, limit],
  );
  return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
}

// ---- step 1: untagged artifacts

export interface UntaggedArtifact {
  id: number;
  repositoryId: number;
  repository: string;
  digest: string;
}

/**
 * Manifests without a tag, listed by no index of their repository, not the accessory of a
 * subject that is still there (those go with their subject), created before `cutoff`.
 */
const COLLECTABLE_MANIFEST = `
  m.created_at < $1
  AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
  AND NOT EXISTS (
    SELECT 1 FROM manifest_references mr JOIN manifests p ON p.id = mr.manifest_id
    WHERE mr.kind = 'manifest' AND mr.digest = m.digest AND p.repository_id = m.repository_id)
  AND NOT (m.subject_digest IS NOT NULL AND EXISTS (
    SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest))`;

export async function untaggedArtifacts(
  db: Queryable,
  cutoff: Date,
  afterId: number,
  limit: number,
): Promise<UntaggedArtifact[]> {
  const rows = await db.query<{ id: string; repository_id: string; repository: string; digest: string }>(
    `SELECT m.id, m.repository_id, r.name AS repository, m.digest FROM manifests m
     JOIN repositories r ON r.id = m.repository_id
     WHERE m.id > $2 AND ${COLLECTABLE_MANIFEST}
     ORDER BY m.id LIMIT $3`,
    [cutoff, afterId, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    repositoryId: Number(r.repository_id),
    repository: r.repository,
    digest: r.digest,
  }));
}

/** Whether the manifest is still collectable (the artifact core asks inside its delete). */
export async function isCollectableManifest(
  tx: Queryable,
  repositoryId: number,
  digest: string,
  cutoff: Date,
): Promise<boolean> {
  const rows = await tx.query(
    `SELECT 1 FROM manifests m WHERE m.repository_id = $2 AND m.digest = $3 AND ${COLLECTABLE_MANIFEST}`,
    [cutoff, repositoryId, digest],
  );
  return rows.length > 0;
}

// ---- step 2: links no manifest of their repository needs

export interface StaleLink {
  repositoryId: number;
  digest: string;
}

/** Neither a manifest of the link's repository nor one of its config or layers. */
const UNUSED_LINK = `
  NOT EXISTS (SELECT 1 FROM manifests m
    WHERE m.repository_id = rb.repository_id AND m.digest = rb.digest AND m.id NOT IN (SELECT unnest($2::bigint[])))
  AND NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id
    WHERE mr.digest = rb.digest AND m.repository_id = rb.repository_id
      AND mr.kind IN ('config', 'layer') AND m.id NOT IN (SELECT unnest($2::bigint[])))`;

export async function staleLinks(
  db: Queryable,
  cutoff: Date,
  after: StaleLink | null,
  limit: number,
  excludedManifestIds: readonly number[],
): Promise<StaleLink[]> {
  const rows = await db.query<{ repository_id: string; digest: string }>(
    `SELECT rb.repository_id, rb.digest FROM repository_blobs rb
     WHERE rb.created_at < $1 AND ${UNUSED_LINK}
       AND ($3::bigint IS NULL OR (rb.repository_id, rb.digest) > ($3::bigint, $4::text))
     ORDER BY rb.repository_id, rb.digest LIMIT $5`,
    [
      cutoff,
      excludedManifestIds.map(String),
      after ? String(after.repositoryId) : null,
      after?.digest ?? null,
      limit,
    ],
  );
  return rows.map((r) => ({ repositoryId: Number(r.repository_id), digest: r.digest }));
}

/** Removes the link if it is still old and unused (one statement: the recheck is the delete). */
export async function deleteStaleLink(tx: Queryable, link: StaleLink, cutoff: Date): Promise<boolean> {
  const rows = await tx.query(
    `DELETE FROM repository_blobs rb
     WHERE rb.repository_id = $3 AND rb.digest = $4 AND rb.created_at < $1 AND ${UNUSED_LINK}
     RETURNING rb.digest`,
    [cutoff, [], String(link.repositoryId), link.digest],
  );
  return rows.length > 0;
}

// ---- step 3: blobs nothing references

/** No link, no manifest, no reference from a manifest; old enough. $1 cutoff, $2 manifest ids, $3/$4 links. */
const UNREFERENCED_BLOB = `
  b.created_at < $1
  AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest
    AND (rb.repository_id, rb.digest) NOT IN (SELECT * FROM unnest($3::bigint[], $4::text[])))
  AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest AND m.id NOT IN (SELECT unnest($2::bigint[])))
  AND NOT EXISTS (SELECT 1 FROM manifest_references mr
    WHERE mr.digest = b.digest AND mr.manifest_id NOT IN (SELECT unnest($2::bigint[])))`;

function exclusionParams(exclusions: GcExclusions): string[][] {
  return [
    exclusions.manifestIds.map(String),
    exclusions.links.map((l) => String(l.repositoryId)),
    exclusions.links.map((l) => l.digest),
  ];
}

export async function unreferencedBlobs(
  db: Queryable,
  cutoff: Date,
  after: string | null,
  limit: number,
  exclusions: GcExclusions = NO_EXCLUSIONS,
): Promise<DoomedBlob[]> {
  const rows = await db.query<{ digest: string; size: string }>(
    `SELECT b.digest, b.size FROM blobs b
     WHERE ($5::text IS NULL OR b.digest > $5) AND ${UNREFERENCED_BLOB}
     ORDER BY b.digest LIMIT $6`,
    [cutoff, ...exclusionParams(exclusions), after, limit],
  );
  return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
}

/**
 * Phase A: if the blob is still unreferenced, deletes its row and leaves the marker that makes
 * a later run finish the job (one statement). Returns its size, or null when it was kept.
 */
export async function doomBlob(tx: Queryable, digest: string, cutoff: Date): Promise<number | null> {
  const rows = await tx.query<{ size: string }>(
    `WITH gone AS (
       DELETE FROM blobs b WHERE b.digest = $5 AND ${UNREFERENCED_BLOB} RETURNING b.digest, b.size
     )
     INSERT INTO gc_doomed_blobs (digest, size) SELECT digest, size FROM gone
     ON CONFLICT (digest) DO UPDATE SET size = EXCLUDED.size, doomed_at = now()
     RETURNING size`,
    [cutoff, ...exclusionParams(NO_EXCLUSIONS), digest],
  );
  return rows[0] ? Number(rows[0].size) : null;
}

export async function blobRowExists(db: Queryable, digest: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM blobs WHERE digest = $1', [digest])).length > 0;
}

export async function dropDoomedMarker(tx: Queryable, digest: string): Promise<void> {
  await tx.query('DELETE FROM gc_doomed_blobs WHERE digest = $1', [digest]);
}

/** Step 4: whether any row claims these bytes (a blob row, or a marker whose run will finish). */
export async function blobRowOrMarkerExists(db: Queryable, digest: string): Promise<boolean> {
  const rows = await db.query(
    `SELECT 1 FROM blobs WHERE digest = $1 UNION ALL SELECT 1 FROM gc_doomed_blobs WHERE digest = $1`,
    [digest],
  );
  return rows.length > 0;
}

/** Step 4, a page of a storage listing at once: which of `digests` a blob row or a marker claims. */
export async function digestsClaimed(db: Queryable, digests: readonly string[]): Promise<Set<string>> {
  if (digests.length === 0) return new Set();
  const rows = await db.query<{ digest: string }>(
    `SELECT digest FROM blobs WHERE digest = ANY($1::text[])
     UNION SELECT digest FROM gc_doomed_blobs WHERE digest = ANY($1::text[])`,
    [digests],
  );
  return new Set(rows.map((r) => r.digest));
}

/** Step 4: upload sessions nobody touched since `cutoff` (what a run would purge). */
export async function countStaleUploadSessions(db: Queryable, cutoff: Date): Promise<number> {
  const rows = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM upload_sessions WHERE updated_at < $1',
    [cutoff],
  );
  return rows[0]?.n ?? 0;
}

/** Step 4: whether an upload session exists (ids in storage keys are not trusted to be UUIDs). */
export async function uploadSessionExists(db: Queryable, id: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM upload_sessions WHERE id::text = $1', [id])).length > 0;
}
