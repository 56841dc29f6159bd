import type { Queryable } from './database.js';
import { TAG_PUSH_TIME_SQL } from './tombstones-table.js';

// What tag retention reads of a project's content: its repositories, and per repository the
// candidates as Harbor's retention sees them: each top-level artifact (not a child of an index in
// the repository, not an accessory) with its tags, labels, and its last push and pull times (the
// latest of the artifact's own and of its tags', as Harbor's GetCandidates takes them).

export interface RetentionCandidateRow {
  digest: string;
  tags: string[];
  labels: string[];
  pushed_at: Date;
  pulled_at: Date | null;
}

/** The project's repository names, in byte order (one indexed range of repositories_project). */
export async function projectRepositoryNames(db: Queryable, projectId: number): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    'SELECT name FROM repositories WHERE project_id = $1 ORDER BY name',
    [projectId],
  );
  return rows.map((r) => r.name);
}

export async function retentionCandidates(
  db: Queryable,
  repository: string,
): Promise<RetentionCandidateRow[]> {
  return db.query<RetentionCandidateRow>(
    `SELECT m.digest,
       COALESCE((SELECT array_agg(t.name ORDER BY t.name) FROM tags t WHERE t.manifest_id = m.id), '{}') AS tags,
       COALESCE((SELECT array_agg(l.name ORDER BY l.name) FROM artifact_labels al JOIN labels l ON l.id = al.label_id
                 WHERE al.manifest_id = m.id), '{}') AS labels,
       GREATEST(m.created_at, (SELECT max(${TAG_PUSH_TIME_SQL}) FROM tags t WHERE t.manifest_id = m.id)) AS pushed_at,
       GREATEST(m.pull_time, (SELECT max(t.pull_time) FROM tags t WHERE t.manifest_id = m.id)) AS pulled_at
     FROM repositories r JOIN manifests m ON m.repository_id = r.id
     WHERE r.name = $1 AND m.subject_digest IS NULL AND NOT EXISTS (
       SELECT 1 FROM manifest_references mr JOIN manifests parent ON parent.id = mr.manifest_id
       WHERE mr.kind = 'manifest' AND mr.digest = m.digest AND parent.repository_id = m.repository_id)
     ORDER BY m.id`,
    [repository],
  );
}
