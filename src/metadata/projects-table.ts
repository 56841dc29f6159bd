import type { Queryable } from './database.js';

export interface ProjectRow {
  id: number;
  name: string;
  owner_id: number | null;
  public: boolean;
  created_at: Date;
  updated_at: Date;
}

const SELECT_PROJECT = `SELECT p.id, p.name, p.owner_id, p.created_at, p.updated_at,
  COALESCE((SELECT m.value = 'true' FROM project_metadata m WHERE m.project_id = p.id AND m.name = 'public'), false) AS public
  FROM projects p`;

export async function findProjectByName(db: Queryable, name: string): Promise<ProjectRow | null> {
  const rows = await db.query<ProjectRow>(`${SELECT_PROJECT} WHERE p.name = $1`, [name]);
  return rows[0] ?? null;
}

export async function findProjectById(db: Queryable, id: number): Promise<ProjectRow | null> {
  const rows = await db.query<ProjectRow>(`${SELECT_PROJECT} WHERE p.id = $1`, [id]);
  return rows[0] ?? null;
}

/** Creates a project with its metadata; null when the name is taken. */
export async function insertProject(
  db: Queryable,
  name: string,
  ownerId: number | null,
  metadata: Record<string, string>,
): Promise<ProjectRow | null> {
  const rows = await db.query<{ id: number }>(
    'INSERT INTO projects (name, owner_id) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id',
    [name, ownerId],
  );
  const id = rows[0]?.id;
  if (id === undefined) return null;
  await setProjectMetadata(db, id, metadata);
  return findProjectById(db, id);
}

export async function setProjectMetadata(
  db: Queryable,
  projectId: number,
  metadata: Record<string, string>,
): Promise<void> {
  const entries = Object.entries(metadata);
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO project_metadata (project_id, name, value)
     SELECT $1, n, v FROM unnest($2::text[], $3::text[]) AS t(n, v)
     ON CONFLICT (project_id, name) DO UPDATE SET value = EXCLUDED.value`,
    [projectId, entries.map(([k]) => k), entries.map(([, v]) => v)],
  );
  await db.query('UPDATE projects SET updated_at = now() WHERE id = $1', [projectId]);
}

export async function projectMetadata(db: Queryable, projectId: number): Promise<Record<string, string>> {
  const rows = await db.query<{ name: string; value: string }>(
    'SELECT name, value FROM project_metadata WHERE project_id = $1 ORDER BY name',
    [projectId],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.value]));
}

export async function deleteProjectMetadata(
  db: Queryable,
  projectId: number,
  name: string,
): Promise<boolean> {
  const rows = await db.query<{ name: string }>(
    'DELETE FROM project_metadata WHERE project_id = $1 AND name = $2 RETURNING name',
    [projectId, name],
  );
  return rows.length > 0;
}

export async function deleteProject(db: Queryable, projectId: number): Promise<void> {
  await db.query('DELETE FROM projects WHERE id = $1', [projectId]);
}

export async function projectRepositoryCount(db: Queryable, projectId: number): Promise<number> {
  const rows = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM repositories WHERE project_id = $1',
    [projectId],
  );
  return rows[0]?.n ?? 0;
}

/** The caller's role in a project through direct membership, or null. */
export async function userProjectRole(
  db: Queryable,
  userId: number,
  projectId: number,
): Promise<number | null> {
  const rows = await db.query<{ role: number }>(
    "SELECT role FROM project_members WHERE project_id = $1 AND entity_type = 'u' AND entity_id = $2",
    [projectId, userId],
  );
  return rows[0]?.role ?? null;
}

/** Adds or changes a user's membership. */
export async function setUserMembership(
  db: Queryable,
  projectId: number,
  userId: number,
  role: number,
): Promise<number> {
  const rows = await db.query<{ id: number }>(
    `INSERT INTO project_members (project_id, entity_type, entity_id, role) VALUES ($1, 'u', $2, $3)
     ON CONFLICT (project_id, entity_type, entity_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()
     RETURNING id`,
    [projectId, userId, role],
  );
  return rows[0]?.id as number;
}

export interface MemberRow {
  id: number;
  project_id: number;
  entity_type: string;
  entity_id: number;
  entity_name: string;
  role: number;
}

const MEMBER_SELECT = `SELECT m.id, m.project_id, m.entity_type, m.entity_id, m.role,
  COALESCE(u.username, '') AS entity_name
  FROM project_members m LEFT JOIN users u ON m.entity_type = 'u' AND u.id = m.entity_id`;

export async function listMembers(
  db: Queryable,
  projectId: number,
  entityNameLike: string | undefined,
  offset: number,
  limit: number,
): Promise<{ items: MemberRow[]; total: number }> {
  const where = `m.project_id = $1 AND ($2::text IS NULL OR strpos(COALESCE(u.username, ''), $2) > 0)`;
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM project_members m LEFT JOIN users u ON m.entity_type = 'u' AND u.id = m.entity_id WHERE ${where}`,
    [projectId, entityNameLike ?? null],
  );
  const items = await db.query<MemberRow>(
    `${MEMBER_SELECT} WHERE ${where} ORDER BY m.id LIMIT $3 OFFSET $4`,
    [projectId, entityNameLike ?? null, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

export async function findMember(
  db: Queryable,
  projectId: number,
  memberId: number,
): Promise<MemberRow | null> {
  const rows = await db.query<MemberRow>(`${MEMBER_SELECT} WHERE m.project_id = $1 AND m.id = $2`, [
    projectId,
    memberId,
  ]);
  return rows[0] ?? null;
}

export async function updateMemberRole(db: Queryable, memberId: number, role: number): Promise<void> {
  await db.query('UPDATE project_members SET role = $2, updated_at = now() WHERE id = $1', [memberId, role]);
}

export async function deleteMember(db: Queryable, memberId: number): Promise<void> {
  await db.query('DELETE FROM project_members WHERE id = $1', [memberId]);
}
