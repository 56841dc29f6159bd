import type { Queryable, SqlParam } from './database.js';

// Rows of `replication_policies` (migration 006). Filters are stored as the validated JSON the
// service hands over; this module does not interpret them.

export type TriggerType = 'manual' | 'scheduled' | 'event_based';

export interface ReplicationPolicyRow {
  id: number;
  name: string;
  description: string;
  creator: string;
  src_registry_id: number | null;
  dest_registry_id: number | null;
  dest_namespace: string;
  dest_namespace_replace_count: number;
  filters: unknown;
  trigger_type: TriggerType;
  trigger_cron: string;
  replicate_deletion: boolean;
  override: boolean;
  speed: number;
  enabled: boolean;
  copy_by_chunk: boolean;
  created_at: Date;
  updated_at: Date;
}

export type ReplicationPolicyFields = Omit<
  ReplicationPolicyRow,
  'id' | 'creator' | 'created_at' | 'updated_at'
>;

const COLUMNS = `id, name, description, creator, src_registry_id, dest_registry_id, dest_namespace, dest_namespace_replace_count, filters,
  trigger_type, trigger_cron, replicate_deletion, override, speed, enabled, copy_by_chunk, created_at, updated_at`;

function values(p: ReplicationPolicyFields): SqlParam[] {
  return [
    p.name,
    p.description,
    p.src_registry_id,
    p.dest_registry_id,
    p.dest_namespace,
    p.dest_namespace_replace_count,
    JSON.stringify(p.filters),
    p.trigger_type,
    p.trigger_cron,
    p.replicate_deletion,
    p.override,
    p.speed,
    p.enabled,
    p.copy_by_chunk,
  ];
}

/** Null when the name is taken. Throws a foreign-key violation (23503) for an unknown endpoint. */
export async function insertPolicy(
  db: Queryable,
  p: ReplicationPolicyFields,
  creator: string,
): Promise<ReplicationPolicyRow | null> {
  const rows = await db.query<ReplicationPolicyRow>(
    `INSERT INTO replication_policies (name, description, src_registry_id, dest_registry_id, dest_namespace,
       dest_namespace_replace_count, filters, trigger_type, trigger_cron, replicate_deletion, override, speed,
       enabled, copy_by_chunk, creator)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15)
     ON CONFLICT (name) DO NOTHING
     RETURNING ${COLUMNS}`,
    [...values(p), creator],
  );
  return rows[0] ?? null;
}

/** Replaces every editable field; null when the row is gone. Throws a unique violation on a taken name. */
export async function updatePolicy(
  db: Queryable,
  id: number,
  p: ReplicationPolicyFields,
): Promise<ReplicationPolicyRow | null> {
  const rows = await db.query<ReplicationPolicyRow>(
    `UPDATE replication_policies SET name = $1, description = $2, src_registry_id = $3, dest_registry_id = $4,
       dest_namespace = $5, dest_namespace_replace_count = $6, filters = $7::jsonb, trigger_type = $8,
       trigger_cron = $9, replicate_deletion = $10, override = $11, speed = $12, enabled = $13,
       copy_by_chunk = $14, updated_at = now()
     WHERE id = $15
     RETURNING ${COLUMNS}`,
    [...values(p), id],
  );
  return rows[0] ?? null;
}

export async function findPolicyById(db: Queryable, id: number): Promise<ReplicationPolicyRow | null> {
  const rows = await db.query<ReplicationPolicyRow>(
    `SELECT ${COLUMNS} FROM replication_policies WHERE id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export async function deletePolicyRow(db: Queryable, id: number): Promise<boolean> {
  const rows = await db.query<{ id: number }>('DELETE FROM replication_policies WHERE id = $1 RETURNING id', [
    id,
  ]);
  return rows.length > 0;
}

/** The names of the policies that use an endpoint on either side (indexed on both). */
export async function policyNamesUsingRegistry(db: Queryable, registryId: number): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT name FROM replication_policies WHERE src_registry_id = $1
     UNION SELECT name FROM replication_policies WHERE dest_registry_id = $1
     ORDER BY name`,
    [registryId],
  );
  return rows.map((r) => r.name);
}

export interface PolicyListFilter {
  name?: string;
  nameLike?: string;
}

/** One page by id, with the total. Policies are few (tens to hundreds): the count is cheap. */
export async function listPolicies(
  db: Queryable,
  filter: PolicyListFilter,
  offset: number,
  limit: number,
): Promise<{ items: ReplicationPolicyRow[]; total: number }> {
  const where = `($1::text IS NULL OR name = $1) AND ($2::text IS NULL OR strpos(lower(name), lower($2)) > 0)`;
  const params = [filter.name ?? null, filter.nameLike ?? null];
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM replication_policies WHERE ${where}`,
    params,
  );
  const items = await db.query<ReplicationPolicyRow>(
    `SELECT ${COLUMNS} FROM replication_policies WHERE ${where} ORDER BY id LIMIT $3 OFFSET $4`,
    [...params, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

/** Every policy, by id: for the execution module (triggers, schedules, event fan-out). */
export async function allPolicies(db: Queryable): Promise<ReplicationPolicyRow[]> {
  return db.query<ReplicationPolicyRow>(`SELECT ${COLUMNS} FROM replication_policies ORDER BY id`);
}
