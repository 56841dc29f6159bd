import type { Queryable } from './database.js';

export interface AuditEntry {
  projectId: number | null;
  /** Instead of projectId: the project's name, resolved to its id when the row is written. */
  projectName?: string | null;
  operator: string;
  /** A user, a robot (operator `robot$...`), anonymous or Wharf itself. */
  operatorKind?: 'user' | 'robot' | 'anonymous' | 'system';
  resourceType: string;
  resource: string;
  operation: string;
  /** What changed, in words a reviewer reads (Harbor's operation_description). */
  description?: string;
  /** false for a refused attempt (a failed login). */
  success?: boolean;
  clientIp: string | null;
  time?: Date;
  /** The outbox event this entry was made from: a second delivery of it writes nothing. */
  eventId?: string;
}

export interface AuditRow {
  id: number;
  project_id: number | null;
  operator: string;
  operator_kind: string;
  resource_type: string;
  resource: string;
  operation: string;
  operation_description: string;
  operation_result: boolean;
  client_ip: string | null;
  op_time: Date;
}

/** Inserts entries in one statement; an entry whose event was already recorded is skipped. */
export async function insertAuditEntries(db: Queryable, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO audit_logs (project_id, operator, resource_type, resource, operation, client_ip, op_time,
       operator_kind, operation_description, operation_result, event_id)
     SELECT COALESCE(e.pid, (SELECT p.id FROM projects p WHERE p.name = e.pname)), e.op, e.rtype, e.res, e.oper,
       e.ip, e.at, e.kind, e.descr, e.ok::boolean, e.eid::uuid
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
       $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
       AS e(pid, op, rtype, res, oper, ip, at, pname, kind, descr, ok, eid)
     ON CONFLICT (event_id) WHERE event_id IS NOT NULL DO NOTHING`,
    [
      entries.map((e) => (e.projectId === null ? null : String(e.projectId))),
      entries.map((e) => e.operator),
      entries.map((e) => e.resourceType),
      entries.map((e) => e.resource),
      entries.map((e) => e.operation),
      entries.map((e) => e.clientIp),
      entries.map((e) => (e.time ?? new Date()).toISOString()),
      entries.map((e) => e.projectName ?? null),
      entries.map((e) => e.operatorKind ?? 'user'),
      entries.map((e) => e.description ?? ''),
      entries.map((e) => String(e.success ?? true)),
      entries.map((e) => e.eventId ?? null),
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
  oldestFirst = false,
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
    `SELECT id, project_id, operator, operator_kind, resource_type, resource, operation, operation_description,
       operation_result, client_ip, op_time
     FROM audit_logs WHERE ${where} ORDER BY ${oldestFirst ? 'op_time, id' : 'op_time DESC, id DESC'} LIMIT $8 OFFSET $9`,
    [...params, limit, offset],
  );
  return { items: items.map((r) => ({ ...r, id: Number(r.id) })), total: total[0]?.n ?? 0 };
}

/**
 * The audit purge job's deletion (or, dry, its count): entries older than `before` whose event
 * type (`operation_resourcetype`, e.g. create_artifact) is in `eventTypes` or whose operation
 * (create, delete, pull ...) is in `operations`. Batches of `batch` rows keep each statement
 * short on a log of millions of entries; `onBatch` hears each one (the job's stop signal, log).
 */
export async function purgeAuditEntriesOf(
  db: Queryable,
  filter: { before: Date; eventTypes: readonly string[]; operations: readonly string[] },
  options: { dryRun: boolean; batch?: number; onBatch?: (purged: number) => void },
): Promise<number> {
  const match = `op_time < $1 AND ((operation || '_' || resource_type) = ANY($2::text[]) OR operation = ANY($3::text[]))`;
  const params = [filter.before, [...filter.eventTypes], [...filter.operations]];
  if (options.dryRun) {
    const rows = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_logs WHERE ${match}`,
      params,
    );
    return rows[0]?.n ?? 0;
  }
  let purged = 0;
  for (;;) {
    const rows = await db.query<{ n: number }>(
      `WITH gone AS (DELETE FROM audit_logs WHERE id IN (SELECT id FROM audit_logs WHERE ${match} LIMIT $4)
         RETURNING 1) SELECT count(*)::int AS n FROM gone`,
      [...params, options.batch ?? 10_000],
    );
    const n = rows[0]?.n ?? 0;
    purged += n;
    options.onBatch?.(purged);
    if (n < (options.batch ?? 10_000)) return purged;
  }
}

/**
 * Of the given tag.created / tag.deleted events, the ids of those that came with an artifact
 * event of the same transaction naming the tag (a push by tag, a delete with its tags): the
 * artifact's entry already says it. Events of one transaction share their `occurred_at`.
 */
export async function tagEventsCoveredByArtifactEvents(
  db: Queryable,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.query<{ id: string }>(
    `SELECT t.id::text AS id FROM events t
     WHERE t.id = ANY($1::uuid[]) AND EXISTS (
       SELECT 1 FROM events e WHERE e.occurred_at = t.occurred_at
         AND e.type = CASE t.type WHEN 'tag.created' THEN 'artifact.pushed' ELSE 'artifact.deleted' END
         AND e.data->>'repository' = t.data->>'repository' AND e.data->'tags' ? (t.data->>'tag'))`,
    [[...ids]],
  );
  return new Set(rows.map((r) => r.id));
}
