import type { Queryable } from './database.js';

// SQL of retention policies (migration 022): one per project; the policy's algorithm, rules and
// trigger are kept as Harbor's JSON, its scope is the project.

export interface StoredRetentionPolicy {
  algorithm: string;
  rules: unknown[];
  trigger: { kind: string; settings: { cron: string }; references?: Record<string, unknown> };
}

export interface RetentionPolicyRow {
  id: number;
  project_id: number;
  policy: StoredRetentionPolicy;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, project_id, policy, created_at, updated_at';

/** Inserts the project's policy; null when the project has one already. */
export async function insertRetentionPolicy(
  db: Queryable,
  projectId: number,
  policy: StoredRetentionPolicy,
): Promise<RetentionPolicyRow | null> {
  const rows = await db.query<RetentionPolicyRow>(
    `INSERT INTO retention_policies (project_id, policy) VALUES ($1, $2::jsonb)
     ON CONFLICT (project_id) DO NOTHING RETURNING ${COLUMNS}`,
    [projectId, JSON.stringify(policy)],
  );
  return rows[0] ?? null;
}

export async function findRetentionPolicy(db: Queryable, id: number): Promise<RetentionPolicyRow | null> {
  const rows = await db.query<RetentionPolicyRow>(`SELECT ${COLUMNS} FROM retention_policies WHERE id = $1`, [
    id,
  ]);
  return rows[0] ?? null;
}

export async function findRetentionPolicyOfProject(
  db: Queryable,
  projectId: number,
): Promise<RetentionPolicyRow | null> {
  const rows = await db.query<RetentionPolicyRow>(
    `SELECT ${COLUMNS} FROM retention_policies WHERE project_id = $1`,
    [projectId],
  );
  return rows[0] ?? null;
}

export async function updateRetentionPolicy(
  db: Queryable,
  id: number,
  policy: StoredRetentionPolicy,
): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    `UPDATE retention_policies SET policy = $2::jsonb, updated_at = now() WHERE id = $1 RETURNING id`,
    [id, JSON.stringify(policy)],
  );
  return rows.length > 0;
}

/** Deletes a policy with its executions and tasks (foreign keys cascade). */
export async function deleteRetentionPolicy(db: Queryable, id: number): Promise<boolean> {
  const rows = await db.query<{ id: number }>('DELETE FROM retention_policies WHERE id = $1 RETURNING id', [
    id,
  ]);
  return rows.length > 0;
}
