import type { Queryable } from './database.js';
import { openPostgresDatabase } from './postgres-database.js';

// Reads what the import needs from a Harbor `registry` database, 1.x or 2.x. Harbor's schema grew
// column by column (password_version in 1.7, robot in 1.8, robot.visible in 1.10, robot secrets
// and the role_permission/permission_policy tables in 2.2, robot.creator later), so every optional
// column or table is looked up in information_schema first and read as NULL when it is absent.
// Identifiers in the SQL below come from this file only, never from the database or the user.

export interface HarborUser {
  user_id: number;
  username: string;
  email: string | null;
  password: string | null;
  salt: string | null;
  password_version: string | null;
  realname: string | null;
  comment: string | null;
  deleted: boolean;
  sysadmin_flag: boolean;
  created_epoch: number | null;
}

export interface HarborProject {
  project_id: number;
  owner_id: number | null;
  name: string;
  deleted: boolean;
  /** Set on proxy-cache projects (2.1+). */
  registry_id: number | null;
  created_epoch: number | null;
}

export interface HarborProjectMetadata {
  project_id: number;
  name: string;
  value: string | null;
}

export interface HarborMember {
  project_id: number;
  entity_id: number;
  entity_type: string;
  role: number;
  /** From Harbor's `role` table, when it has one: ids were not stable across 1.x installs. */
  role_name: string | null;
}

export interface HarborRobot {
  id: number;
  name: string;
  description: string | null;
  project_id: number | null;
  /** Unix seconds; -1 (or 0) means it never expires. */
  expiresat: number | null;
  disabled: boolean;
  /** false for the robots Harbor makes for itself (scanners, 1.10+). */
  visible: boolean;
  /** PBKDF2-SHA256 hex of the secret (2.2+); empty for the 1.x-style robots that used JWTs. */
  secret: string | null;
  salt: string | null;
  /** Days (2.2+); -1 means never expires. */
  duration: number | null;
  creator: string | null;
  created_epoch: number | null;
}

export interface HarborRobotPolicy {
  robot_id: number;
  /** /system, /project/* or /project/<id> */
  scope: string;
  resource: string;
  action: string;
  effect: string | null;
}

export interface HarborData {
  /** The highest version in Harbor's schema_migrations (golang-migrate), when there is one. */
  schemaVersion: string | null;
  users: HarborUser[];
  projects: HarborProject[];
  projectMetadata: HarborProjectMetadata[];
  members: HarborMember[];
  /** user_group id -> name; null when Harbor has no user_group table. */
  groups: Map<number, string> | null;
  robots: HarborRobot[];
  /** null when Harbor predates robot permissions in role_permission/permission_policy (< 2.2). */
  robotPolicies: HarborRobotPolicy[] | null;
  /** Harbor's configured robot_name_prefix, when it was changed from the default. */
  robotNamePrefix: string | null;
  /** How many OIDC users have a CLI secret in Harbor (oidc_user), which is not imported. */
  oidcSecrets: number;
}

export class NotHarborDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotHarborDatabaseError';
  }
}

class Schema {
  private constructor(private readonly tables: Map<string, Set<string>>) {}

  static async read(db: Queryable): Promise<Schema> {
    const rows = await db.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`,
    );
    const tables = new Map<string, Set<string>>();
    for (const r of rows) {
      let columns = tables.get(r.table_name);
      if (!columns) tables.set(r.table_name, (columns = new Set()));
      columns.add(r.column_name);
    }
    return new Schema(tables);
  }

  has(table: string, column?: string): boolean {
    const columns = this.tables.get(table);
    return columns !== undefined && (column === undefined || columns.has(column));
  }

  /** `table.column`, or a typed NULL (or the given default) under the column's name when absent. */
  column(table: string, alias: string, column: string, type: string, fallback = 'NULL'): string {
    return this.has(table, column) ? `${alias}.${column}` : `${fallback}::${type} AS ${column}`;
  }

  /** Seconds since the epoch of Harbor's creation_time (a UTC `timestamp`), or NULL. */
  createdEpoch(table: string, alias: string): string {
    return this.has(table, 'creation_time')
      ? `EXTRACT(EPOCH FROM ${alias}.creation_time)::float8 AS created_epoch`
      : 'NULL::float8 AS created_epoch';
  }
}

export async function readHarbor(db: Queryable): Promise<HarborData> {
  const s = await Schema.read(db);
  for (const table of ['harbor_user', 'project']) {
    if (!s.has(table)) {
      throw new NotHarborDatabaseError(
        `the source database has no ${table} table: it is not Harbor's registry database`,
      );
    }
  }
  return {
    schemaVersion: await readSchemaVersion(db, s),
    users: await readUsers(db, s),
    ...(await readProjects(db, s)),
    ...(await readRobots(db, s)),
    robotNamePrefix: await readRobotNamePrefix(db, s),
    oidcSecrets: await countOidcSecrets(db, s),
  };
}

function readUsers(db: Queryable, s: Schema): Promise<HarborUser[]> {
  return db.query<HarborUser>(
    `SELECT u.user_id, u.username, ${s.column('harbor_user', 'u', 'email', 'text')},
       u.password, ${s.column('harbor_user', 'u', 'salt', 'text')},
       ${s.column('harbor_user', 'u', 'password_version', 'text')},
       ${s.column('harbor_user', 'u', 'realname', 'text')}, ${s.column('harbor_user', 'u', 'comment', 'text')},
       ${s.column('harbor_user', 'u', 'deleted', 'boolean', 'false')},
       ${s.column('harbor_user', 'u', 'sysadmin_flag', 'boolean', 'false')}, ${s.createdEpoch('harbor_user', 'u')}
     FROM harbor_user u ORDER BY u.user_id`,
  );
}

/** Projects with their metadata, members and the groups members may be. */
async function readProjects(
  db: Queryable,
  s: Schema,
): Promise<Pick<HarborData, 'projects' | 'projectMetadata' | 'members' | 'groups'>> {
  const projects = await db.query<HarborProject>(
    `SELECT p.project_id, p.owner_id, p.name, ${s.column('project', 'p', 'deleted', 'boolean', 'false')},
       ${s.column('project', 'p', 'registry_id', 'integer')}, ${s.createdEpoch('project', 'p')}
     FROM project p ORDER BY p.project_id`,
  );

  const projectMetadata = s.has('project_metadata')
    ? await db.query<HarborProjectMetadata>(
        `SELECT m.project_id, m.name, m.value FROM project_metadata m
         ${s.has('project_metadata', 'deleted') ? 'WHERE NOT m.deleted' : ''} ORDER BY m.project_id, m.name`,
      )
    : [];

  const members = s.has('project_member')
    ? await db.query<HarborMember>(
        `SELECT m.project_id, m.entity_id, m.entity_type, m.role,
           ${s.has('role', 'name') && s.has('role', 'role_id') ? 'r.name' : 'NULL::text'} AS role_name
         FROM project_member m
         ${s.has('role', 'name') && s.has('role', 'role_id') ? 'LEFT JOIN role r ON r.role_id = m.role' : ''}
         ORDER BY m.project_id, m.entity_type, m.entity_id`,
      )
    : [];

  const groups = s.has('user_group')
    ? new Map(
        (await db.query<{ id: number; group_name: string }>('SELECT id, group_name FROM user_group')).map(
          (g) => [g.id, g.group_name],
        ),
      )
    : null;
  return { projects, projectMetadata, members, groups };
}

async function readRobots(db: Queryable, s: Schema): Promise<Pick<HarborData, 'robots' | 'robotPolicies'>> {
  const robots = s.has('robot')
    ? await db.query<HarborRobot>(
        `SELECT r.id, r.name, ${s.column('robot', 'r', 'description', 'text')}, r.project_id,
           ${s.column('robot', 'r', 'expiresat', 'bigint')}, ${s.column('robot', 'r', 'disabled', 'boolean', 'false')},
           ${s.column('robot', 'r', 'visible', 'boolean', 'true')}, ${s.column('robot', 'r', 'secret', 'text')},
           ${s.column('robot', 'r', 'salt', 'text')}, ${s.column('robot', 'r', 'duration', 'integer')},
           ${s.column('robot', 'r', 'creator', 'text')}, ${s.createdEpoch('robot', 'r')}
         FROM robot r ORDER BY r.id`,
      )
    : [];

  const robotPolicies =
    s.has('role_permission') && s.has('permission_policy')
      ? await db.query<HarborRobotPolicy>(
          `SELECT rp.role_id AS robot_id, pp.scope, pp.resource, pp.action, pp.effect
           FROM role_permission rp JOIN permission_policy pp ON pp.id = rp.permission_policy_id
           WHERE rp.role_type = 'robotaccount'
           ORDER BY rp.role_id, pp.scope, pp.resource, pp.action`,
        )
      : null;
  return { robots, robotPolicies };
}

async function readRobotNamePrefix(db: Queryable, s: Schema): Promise<string | null> {
  if (!s.has('properties', 'k') || !s.has('properties', 'v')) return null;
  const rows = await db.query<{ v: string }>("SELECT v FROM properties WHERE k = 'robot_name_prefix'");
  return rows[0]?.v || null;
}

async function readSchemaVersion(db: Queryable, s: Schema): Promise<string | null> {
  if (!s.has('schema_migrations', 'version')) return null;
  const rows = await db.query<{ version: string | null }>(
    'SELECT max(version)::text AS version FROM schema_migrations',
  );
  return rows[0]?.version ?? null;
}

async function countOidcSecrets(db: Queryable, s: Schema): Promise<number> {
  if (!s.has('oidc_user', 'secret')) return 0;
  const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM oidc_user WHERE secret <> ''");
  return rows[0]?.n ?? 0;
}

/**
 * Runs `read` on one consistent, read-only snapshot of the Harbor database at `url` (one
 * connection, closed afterwards): the import sees Harbor as it was at one instant and cannot write to it.
 */
export async function withHarborSnapshot<T>(
  url: string,
  read: (harbor: Queryable) => Promise<T>,
): Promise<T> {
  const source = await openPostgresDatabase({ connection: { connectionString: url }, poolSize: 1 });
  try {
    return await source.transaction(async (harbor) => {
      await harbor.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return read(harbor);
    });
  } finally {
    await source.close();
  }
}
