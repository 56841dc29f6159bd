import type { Queryable, SqlParam } from './database.js';

// Rows of `registries` (migration 005). The sealed secret is opaque here: only the endpoint
// service can open it.

export interface RegistryRow {
  id: number;
  name: string;
  url: string;
  type: 'harbor' | 'docker-registry';
  description: string;
  credential_type: 'basic' | 'oauth' | null;
  access_key: string | null;
  access_secret_sealed: string | null;
  insecure: boolean;
  ca_certificate: string | null;
  status: 'healthy' | 'unhealthy' | 'unknown';
  status_checked_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type RegistryFields = Pick<
  RegistryRow,
  | 'name'
  | 'url'
  | 'type'
  | 'description'
  | 'credential_type'
  | 'access_key'
  | 'access_secret_sealed'
  | 'insecure'
  | 'ca_certificate'
>;

const COLUMNS = `id, name, url, type, description, credential_type, access_key, access_secret_sealed,
  insecure, ca_certificate, status, status_checked_at, created_at, updated_at`;

/** Null when the name is taken. */
export async function insertRegistry(
  db: Queryable,
  r: RegistryFields & { status: RegistryRow['status'] },
): Promise<RegistryRow | null> {
  const rows = await db.query<RegistryRow>(
    `INSERT INTO registries (name, url, type, description, credential_type, access_key, access_secret_sealed,
       insecure, ca_certificate, status, status_checked_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $10 = 'unknown' THEN NULL ELSE now() END)
     ON CONFLICT (name) DO NOTHING
     RETURNING ${COLUMNS}`,
    fieldParams(r),
  );
  return rows[0] ?? null;
}

/** The editable fields and the status, in the order both statements number them. */
function fieldParams(r: RegistryFields & { status: RegistryRow['status'] }): SqlParam[] {
  return [
    r.name,
    r.url,
    r.type,
    r.description,
    r.credential_type,
    r.access_key,
    r.access_secret_sealed,
    r.insecure,
    r.ca_certificate,
    r.status,
  ];
}

export async function findRegistryById(db: Queryable, id: number): Promise<RegistryRow | null> {
  const rows = await db.query<RegistryRow>(`SELECT ${COLUMNS} FROM registries WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function findRegistryByName(db: Queryable, name: string): Promise<RegistryRow | null> {
  const rows = await db.query<RegistryRow>(`SELECT ${COLUMNS} FROM registries WHERE name = $1`, [name]);
  return rows[0] ?? null;
}

/** Replaces every editable field; null when the row is gone. Throws a unique violation on a taken name. */
export async function updateRegistry(
  db: Queryable,
  id: number,
  r: RegistryFields & { status: RegistryRow['status'] },
): Promise<RegistryRow | null> {
  const rows = await db.query<RegistryRow>(
    `UPDATE registries SET name = $2, url = $3, type = $4, description = $5, credential_type = $6,
       access_key = $7, access_secret_sealed = $8, insecure = $9, ca_certificate = $10,
       status = $11, status_checked_at = CASE WHEN $11 = 'unknown' THEN NULL ELSE now() END, updated_at = now()
     WHERE id = $1
     RETURNING ${COLUMNS}`,
    [id, ...fieldParams(r)],
  );
  return rows[0] ?? null;
}

export async function setRegistryStatus(
  db: Queryable,
  id: number,
  status: RegistryRow['status'],
): Promise<void> {
  await db.query('UPDATE registries SET status = $2, status_checked_at = now() WHERE id = $1', [id, status]);
}

export async function deleteRegistryRow(db: Queryable, id: number): Promise<boolean> {
  const rows = await db.query<{ id: number }>('DELETE FROM registries WHERE id = $1 RETURNING id', [id]);
  return rows.length > 0;
}

export interface RegistryListFilter {
  name?: string;
  nameLike?: string;
  type?: string;
}

/** One page by id, with the total. Endpoints are few (tens): the count is cheap. */
export async function listRegistries(
  db: Queryable,
  filter: RegistryListFilter,
  offset: number,
  limit: number,
): Promise<{ items: RegistryRow[]; total: number }> {
  const where = `($1::text IS NULL OR name = $1)
    AND ($2::text IS NULL OR strpos(lower(name), lower($2)) > 0)
    AND ($3::text IS NULL OR type = $3)`;
  const params = [filter.name ?? null, filter.nameLike ?? null, filter.type ?? null];
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM registries WHERE ${where}`,
    params,
  );
  const items = await db.query<RegistryRow>(
    `SELECT ${COLUMNS} FROM registries WHERE ${where} ORDER BY id LIMIT $4 OFFSET $5`,
    [...params, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}
