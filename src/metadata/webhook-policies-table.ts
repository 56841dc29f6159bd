import type { Queryable } from './database.js';

// SQL of webhook policies (migration 016). Targets are stored as given, with each auth_header
// sealed by the service (the database never holds a receiver's credential in clear).

export interface StoredTarget {
  type: string;
  address: string;
  /** Sealed with the service's SecretBox; '' when the target sends no Authorization. */
  auth_header_sealed: string;
  skip_cert_verify: boolean;
  payload_format: string;
}

export interface WebhookPolicyRow {
  id: number;
  project_id: number;
  name: string;
  description: string;
  enabled: boolean;
  event_types: string[];
  targets: StoredTarget[];
  secret_sealed: string;
  creator: string;
  creation_time: Date;
  update_time: Date;
}

export interface WebhookPolicyFields {
  name: string;
  description: string;
  enabled: boolean;
  eventTypes: readonly string[];
  targets: readonly StoredTarget[];
}

const COLUMNS = `id, project_id, name, description, enabled, event_types, targets, secret_sealed, creator,
  creation_time, update_time`;

/** Inserts a policy; a taken name raises PostgreSQL's unique violation for the caller to map. */
export async function insertWebhookPolicy(
  db: Queryable,
  projectId: number,
  fields: WebhookPolicyFields,
  secretSealed: string,
  creator: string,
): Promise<WebhookPolicyRow> {
  const rows = await db.query<WebhookPolicyRow>(
    `INSERT INTO webhook_policies (project_id, name, description, enabled, event_types, targets, secret_sealed, creator)
     VALUES ($1, $2, $3, $4, $5::text[], $6::jsonb, $7, $8) RETURNING ${COLUMNS}`,
    [
      projectId,
      fields.name,
      fields.description,
      fields.enabled,
      fields.eventTypes,
      JSON.stringify(fields.targets),
      secretSealed,
      creator,
    ],
  );
  return rows[0] as WebhookPolicyRow;
}

export async function updateWebhookPolicy(
  db: Queryable,
  id: number,
  fields: WebhookPolicyFields,
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE webhook_policies SET name = $2, description = $3, enabled = $4, event_types = $5::text[],
       targets = $6::jsonb, update_time = now()
     WHERE id = $1 RETURNING id`,
    [id, fields.name, fields.description, fields.enabled, fields.eventTypes, JSON.stringify(fields.targets)],
  );
  return rows.length > 0;
}

export async function deleteWebhookPolicy(db: Queryable, projectId: number, id: number): Promise<boolean> {
  const rows = await db.query('DELETE FROM webhook_policies WHERE id = $1 AND project_id = $2 RETURNING id', [
    id,
    projectId,
  ]);
  return rows.length > 0;
}

export async function findWebhookPolicy(
  db: Queryable,
  projectId: number,
  id: number,
): Promise<WebhookPolicyRow | null> {
  const rows = await db.query<WebhookPolicyRow>(
    `SELECT ${COLUMNS} FROM webhook_policies WHERE id = $1 AND project_id = $2`,
    [id, projectId],
  );
  return rows[0] ?? null;
}

export async function findWebhookPolicyById(db: Queryable, id: number): Promise<WebhookPolicyRow | null> {
  const rows = await db.query<WebhookPolicyRow>(`SELECT ${COLUMNS} FROM webhook_policies WHERE id = $1`, [
    id,
  ]);
  return rows[0] ?? null;
}

export interface WebhookPolicyFilter {
  name?: string | undefined;
  nameLike?: string | undefined;
}

export async function listWebhookPolicies(
  db: Queryable,
  projectId: number,
  filter: WebhookPolicyFilter,
  offset: number,
  limit: number,
): Promise<{ items: WebhookPolicyRow[]; total: number }> {
  const where = `WHERE project_id = $1 AND ($2::text IS NULL OR name = $2)
    AND ($3::text IS NULL OR strpos(name, $3) > 0)`;
  const params = [projectId, filter.name ?? null, filter.nameLike ?? null];
  const items = await db.query<WebhookPolicyRow>(
    `SELECT ${COLUMNS} FROM webhook_policies ${where} ORDER BY id LIMIT $4 OFFSET $5`,
    [...params, limit, offset],
  );
  const count = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM webhook_policies ${where}`,
    params,
  );
  return { items, total: count[0]?.n ?? 0 };
}

/** The enabled policies of the named projects that want any of these event types. */
export async function enabledPoliciesFor(
  db: Queryable,
  projectNames: readonly string[],
  eventTypes: readonly string[],
): Promise<Array<WebhookPolicyRow & { project_name: string }>> {
  if (projectNames.length === 0 || eventTypes.length === 0) return [];
  return db.query<WebhookPolicyRow & { project_name: string }>(
    `SELECT w.id, w.project_id, w.name, w.description, w.enabled, w.event_types, w.targets, w.secret_sealed,
       w.creator, w.creation_time, w.update_time, p.name AS project_name
     FROM webhook_policies w JOIN projects p ON p.id = w.project_id
     WHERE w.enabled AND p.name = ANY($1::text[]) AND w.event_types && $2::text[]
     ORDER BY w.id`,
    [projectNames, eventTypes],
  );
}

/** Whether a project is public and when a repository was created (Harbor's repository block). */
export async function repositoryFacts(
  db: Queryable,
  projectName: string,
  repository: string,
): Promise<{ public: boolean; created: Date | null }> {
  const rows = await db.query<{ public: boolean; created: Date | null }>(
    `SELECT COALESCE((SELECT m.value = 'true' FROM project_metadata m JOIN projects p ON p.id = m.project_id
                      WHERE p.name = $1 AND m.name = 'public'), false) AS public,
            (SELECT r.created_at FROM repositories r WHERE r.name = $2) AS created`,
    [projectName, repository],
  );
  return rows[0] ?? { public: false, created: null };
}
