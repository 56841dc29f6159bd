import type { Queryable } from './database.js';

export interface AuditEntry {
  projectId: number | null;
  /** Instead of projectId: the project's name, resolved to its id when the row is written. */
  projectName?: string;
  operator: string;
  resourceType: string;
  resource: string;
  operation: string;
  clientIp: string | null;
  time?: Date;
}

export interface AuditRow {
  id: number;
  project_id: number | null;
  operator: string;
  resource_type: string;
  resource: string;
  operation: string;
  op_time: Date;
}

/** Inserts entries in one statement. */
export async function insertAuditEntries(db: Queryable, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO audit_logs (project_id, operator, resource_type, resource, operation, client_ip, op_time)
     SELECT COALESCE(e.pid, (SELECT p.id FROM projects p WHERE p.name = e.pname)), e.op, e.rtype, e.res, e.oper, e.ip, e.at
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[])
       AS e(pid, op, rtype, res, oper, ip, at, pname)`,
    [
      entries.map((e) => (e.projectId === null ? null : String(e.projectId))),
      entries.map((e) => e.operator),
      entries.map((e) => e.resourceType),
      entries.map((e) => e.resource),
      entries.map((e) => e.operation),
      entries.map((e) => e.clientIp),
      entries.map((e) => (e.time ?? new Date()).toISOString()),
      entries.map((e) => e.projectName ?? null),
    ],
  );
}

export interface AuditFilter {
  projectId?: number;
  operation?: string;
  resourceType?: string;
  resourceLike?: string;
  operator?: string;
  from?: Date;
  to?: Date;
}

export async function listAuditEntries(
  db: Queryable,
  filter: AuditFilter,
  offset: number,
  limit: number,
): Promise<{ items: AuditRow[]; total: number }> {
  const where = `($1::bigint IS NULL OR project_id = $1) AND ($2::text IS NULL OR operation = $2)
    AND ($3::text IS NULL OR resource_type = $3) AND ($4::text IS NULL OR strpos(resource, $4) > 0)
    AND ($5::text IS NULL OR operator = $5) AND ($6::timestamptz IS NULL OR op_time >= $6)
    AND ($7::timestamptz IS NULL OR op_time <= $7)`;
  const params = [
    filter.projectId ?? null,
    filter.operation ?? null,
    filter.resourceType ?? null,
    filter.resourceLike ?? null,
    filter.operator ?? null,
    filter.from ?? null,
    filter.to ?? null,
  ];
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM audit_logs WHERE ${where}`,
    params,
  );
  const items = await db.query<AuditRow>(
    `SELECT id, project_id, operator, resource_type, resource, operation, op_time FROM audit_logs
     WHERE ${where} ORDER BY op_time DESC, id DESC LIMIT $8 OFFSET $9`,
    [...params, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

export async function purgeAuditEntries(db: Queryable, before: Date): Promise<number> {
  const rows = await db.query<{ n: number }>(
    'WITH gone AS (DELETE FROM audit_logs WHERE op_time < $1 RETURNING 1) SELECT count(*)::int AS n FROM gone',
    [before],
  );
  return rows[0]?.n ?? 0;
}
