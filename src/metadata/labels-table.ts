import type { LabelScope } from '../domain/labels.js';
import { isForeignKeyViolation, type Queryable } from './database.js';

// Rows of `labels` and `artifact_labels` (migration 009). An artifact is a manifest row of one
// repository (manifests.id, the artifact id of the API), so labels attach to manifest ids.

export interface LabelRow {
  id: number;
  name: string;
  description: string;
  color: string;
  scope: LabelScope;
  project_id: number | null;
  creation_time: Date;
  update_time: Date;
}

export interface LabelFields {
  name: string;
  description: string;
  color: string;
}

export interface LabelFilter {
  scope: LabelScope;
  /** Required for scope 'p'. */
  projectId?: number;
  /** Exact name. */
  name?: string;
  /** Substring of the name. */
  nameLike?: string;
}

const COLUMNS = 'l.id, l.name, l.description, l.color, l.scope, l.project_id, l.creation_time, l.update_time';

/** Null when the name is taken in that scope (and project). */
export async function insertLabel(
  db: Queryable,
  fields: LabelFields & { scope: LabelScope; projectId: number | null },
): Promise<LabelRow | null> {
  // No exception on a taken name: inside a caller's transaction one would abort it.
  const rows = await db.query<LabelRow>(
    `INSERT INTO labels AS l (name, description, color, scope, project_id) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
    [fields.name, fields.description, fields.color, fields.scope, fields.projectId],
  );
  return rows[0] ?? null;
}

export async function findLabel(db: Queryable, id: number): Promise<LabelRow | null> {
  const rows = await db.query<LabelRow>(`SELECT ${COLUMNS} FROM labels l WHERE l.id = $1`, [id]);
  return rows[0] ?? null;
}

/** One page of labels of one scope (and project), by name, with the total. */
export async function listLabels(
  db: Queryable,
  filter: LabelFilter,
  offset: number,
  limit: number,
): Promise<{ items: LabelRow[]; total: number }> {
  const where = `l.scope = $1 AND ($1 = 'g' OR l.project_id = $2)
    AND ($3::text IS NULL OR l.name = $3)
    AND ($4::text IS NULL OR strpos(l.name, $4) > 0)`;
  const params = [filter.scope, filter.projectId ?? null, filter.name ?? null, filter.nameLike ?? null];
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM labels l WHERE ${where}`,
    params,
  );
  const items = await db.query<LabelRow>(
    `SELECT ${COLUMNS} FROM labels l WHERE ${where} ORDER BY l.name, l.id LIMIT $5 OFFSET $6`,
    [...params, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

/** 'conflict' when the new name is taken in the label's scope, null when the label is gone. */
export async function updateLabel(
  db: Queryable,
  id: number,
  fields: LabelFields,
): Promise<LabelRow | 'conflict' | null> {
  // The name is checked first, in the same statement, so a taken name is an answer rather than an
  // error that would abort the caller's transaction. The unique indexes still decide a race.
  const rows = await db.query<LabelRow & { taken: boolean }>(
    `WITH target AS (SELECT id, scope, project_id FROM labels WHERE id = $1),
     taken AS (
       SELECT EXISTS (
         SELECT 1 FROM labels o, target t
         WHERE o.id <> t.id AND o.name = $2 AND o.scope = t.scope
           AND o.project_id IS NOT DISTINCT FROM t.project_id) AS taken
     ),
     updated AS (
       UPDATE labels AS l SET name = $2, description = $3, color = $4, update_time = now()
       WHERE l.id = $1 AND NOT (SELECT taken FROM taken)
       RETURNING ${COLUMNS}
     )
     SELECT u.*, (SELECT taken FROM taken) AS taken FROM target LEFT JOIN updated u ON true`,
    [id, fields.name, fields.description, fields.color],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.taken) return 'conflict';
  const { taken: _taken, ...label } = row;
  return label;
}

/** Deletes a label; its attachments go with it (cascade). False when it did not exist. */
export async function deleteLabel(db: Queryable, id: number): Promise<boolean> {
  const rows = await db.query<{ id: number }>('DELETE FROM labels WHERE id = $1 RETURNING id', [id]);
  return rows.length > 0;
}

/** False when the label is already on the artifact. */
/** 'attached', 'present' (already on it), or 'gone' (the label or the artifact was deleted meanwhile). */
export async function attachLabel(
  db: Queryable,
  manifestId: number,
  labelId: number,
): Promise<'attached' | 'present' | 'gone'> {
  try {
    const rows = await db.query<{ label_id: number }>(
      `INSERT INTO artifact_labels (manifest_id, label_id) VALUES ($1, $2)
       ON CONFLICT DO NOTHING RETURNING label_id`,
      [manifestId, labelId],
    );
    return rows.length > 0 ? 'attached' : 'present';
  } catch (err) {
    if (isForeignKeyViolation(err)) return 'gone';
    throw err;
  }
}

/** False when the label was not on the artifact. */
export async function detachLabel(db: Queryable, manifestId: number, labelId: number): Promise<boolean> {
  const rows = await db.query<{ label_id: number }>(
    'DELETE FROM artifact_labels WHERE manifest_id = $1 AND label_id = $2 RETURNING label_id',
    [manifestId, labelId],
  );
  return rows.length > 0;
}

/** The labels on each of the given artifacts (manifest ids), by name; artifacts without any are absent. */
export async function labelsOfManifests(
  db: Queryable,
  manifestIds: readonly number[],
): Promise<Map<number, LabelRow[]>> {
  const out = new Map<number, LabelRow[]>();
  if (manifestIds.length === 0) return out;
  const rows = await db.query<LabelRow & { manifest_id: number }>(
    `SELECT al.manifest_id, ${COLUMNS} FROM artifact_labels al JOIN labels l ON l.id = al.label_id
     WHERE al.manifest_id = ANY($1::bigint[]) ORDER BY l.name, l.id`,
    [manifestIds.map(String)],
  );
  for (const { manifest_id, ...label } of rows) {
    const list = out.get(manifest_id);
    if (list) list.push(label);
    else out.set(manifest_id, [label]);
  }
  return out;
}

export interface TagArtifactFacts {
  mediaType: string;
  /** The config's media type (manifests.artifact_type); null for an index. */
  configMediaType: string | null;
  /** Label names, sorted. */
  labels: string[];
}

/**
 * Per tag of a repository (its full name): what replication's label and resource filters look
 * at, in one query. An unknown repository gives an empty map.
 */
export async function tagArtifactFacts(
  db: Queryable,
  repository: string,
): Promise<Map<string, TagArtifactFacts>> {
  const rows = await db.query<{
    tag: string;
    media_type: string;
    artifact_type: string | null;
    label: string | null;
  }>(
    `SELECT t.name AS tag, m.media_type, m.artifact_type, l.name AS label FROM repositories r
     JOIN tags t ON t.repository_id = r.id
     JOIN manifests m ON m.id = t.manifest_id
     LEFT JOIN artifact_labels al ON al.manifest_id = m.id
     LEFT JOIN labels l ON l.id = al.label_id
     WHERE r.name = $1 ORDER BY t.name, l.name`,
    [repository],
  );
  const out = new Map<string, TagArtifactFacts>();
  for (const row of rows) {
    let facts = out.get(row.tag);
    if (!facts) {
      facts = { mediaType: row.media_type, configMediaType: row.artifact_type, labels: [] };
      out.set(row.tag, facts);
    }
    if (row.label !== null) facts.labels.push(row.label);
  }
  return out;
}
