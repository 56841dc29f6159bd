import type { Queryable } from './database.js';

// The cluster-wide figures /metrics reports, each one aggregate query (read on scrape, cached
// briefly by services/system-metrics.ts): jobs by type and status, replication executions and
// tasks by status, and the bytes of stored blobs.

export interface CountByLabels {
  labels: Record<string, string>;
  count: number;
}

/** Jobs not yet finished or failed for good, by type and status (pending, running, error). */
export async function jobCounts(db: Queryable): Promise<CountByLabels[]> {
  const rows = await db.query<{ type: string; status: string; n: number }>(
    `SELECT type, status, count(*)::int AS n FROM jobs
     WHERE status IN ('pending', 'running', 'error') GROUP BY type, status`,
  );
  return rows.map((r) => ({ labels: { type: r.type, status: r.status }, count: r.n }));
}

export async function replicationExecutionCounts(db: Queryable): Promise<CountByLabels[]> {
  const rows = await db.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM replication_executions GROUP BY status',
  );
  return rows.map((r) => ({ labels: { status: r.status }, count: r.n }));
}

export async function replicationTaskCounts(db: Queryable): Promise<CountByLabels[]> {
  const rows = await db.query<{ operation: string; status: string; n: number }>(
    'SELECT operation, status, count(*)::int AS n FROM replication_tasks GROUP BY operation, status',
  );
  return rows.map((r) => ({ labels: { operation: r.operation, status: r.status }, count: r.n }));
}

/** Blobs stored (each digest once, as storage holds it) and their bytes. */
export async function blobUsage(db: Queryable): Promise<{ blobs: number; bytes: number }> {
  const rows = await db.query<{ n: number; bytes: number }>(
    'SELECT count(*)::int AS n, COALESCE(sum(size), 0)::float8 AS bytes FROM blobs',
  );
  return { blobs: rows[0]?.n ?? 0, bytes: rows[0]?.bytes ?? 0 };
}
