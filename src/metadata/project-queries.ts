import type { Queryable } from './database.js';
import type { ProjectRow } from './projects-table.js';

// Reads over projects that join other tables: the listing a caller may see, and a project's summary.

/** Who asks (what they may see) and what they filter on; null filters match everything. */
export interface ProjectListQuery {
  /** A system administrator sees every project. */
  seeAll: boolean;
  /** The user whose memberships make private projects visible; -1 for none. */
  userId: number;
  /** The project a robot belongs to (visible to it); null for none. */
  robotProjectId: number | null;
  name: string | null;
  nameLike: string | null;
  public: boolean | null;
}

const FROM = `FROM projects p LEFT JOIN project_metadata pub ON pub.project_id = p.id AND pub.name = 'public'`;
const WHERE = `
  ($1::boolean OR pub.value = 'true'
    OR EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.entity_type = 'u' AND m.entity_id = $2)
    OR p.id = $3)
  AND ($4::text IS NULL OR p.name = $4)
  AND ($5::text IS NULL OR strpos(p.name, $5) > 0)
  AND ($6::boolean IS NULL OR (COALESCE(pub.value, 'false') = 'true') = $6)`;

/** One page of the projects the query's caller may see, in name order, with the total. */
export async function listVisibleProjects(
  db: Queryable,
  query: ProjectListQuery,
  offset: number,
  limit: number,
): Promise<{ items: ProjectRow[]; total: number }> {
  const params = [query.seeAll, query.userId, query.robotProjectId, query.name, query.nameLike, query.public];
  const totalRows = await db.query<{ n: number }>(`SELECT count(*)::int AS n ${FROM} WHERE ${WHERE}`, params);
  const items = await db.query<ProjectRow>(
    `SELECT p.id, p.name, p.owner_id, p.created_at, p.updated_at, COALESCE(pub.value = 'true', false) AS public
     ${FROM} WHERE ${WHERE} ORDER BY p.name LIMIT $7 OFFSET $8`,
    [...params, limit, offset],
  );
  return { items, total: totalRows[0]?.n ?? 0 };
}

/** How many members a project has in each role. */
export async function projectMemberRoleCounts(
  db: Queryable,
  projectId: number,
): Promise<Record<number, number>> {
  const rows = await db.query<{ role: number; n: number }>(
    'SELECT role, count(*)::int AS n FROM project_members WHERE project_id = $1 GROUP BY role',
    [projectId],
  );
  return Object.fromEntries(rows.map((r) => [r.role, r.n]));
}

/** The bytes of the distinct blobs a project's repositories hold (a blob shared by two counts once). */
export async function projectStorageBytes(db: Queryable, projectId: number): Promise<number> {
  const rows = await db.query<{ bytes: number }>(
    `SELECT COALESCE(sum(b.size), 0)::float8 AS bytes FROM (
       SELECT DISTINCT rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
       WHERE r.project_id = $1) d JOIN blobs b ON b.digest = d.digest`,
    [projectId],
  );
  return rows[0]?.bytes ?? 0;
}
