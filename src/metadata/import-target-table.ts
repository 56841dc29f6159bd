import type { Queryable } from './database.js';
import type { RobotPermission } from './robots-table.js';

// What `wharf import harbor` reads and writes in Wharf's own tables: users, projects and robots
// matched by name, created with Harbor's creation times, and updated field by field.

/** A user's fields the import compares with Harbor's. */
export interface ImportedUserFields {
  email: string | null;
  realname: string;
  comment: string;
  sysadmin: boolean;
}

export interface ExistingImportUser extends ImportedUserFields {
  id: number;
  password_hash: string;
}

export async function emailTakenByAnotherUser(
  db: Queryable,
  email: string,
  username: string,
): Promise<boolean> {
  const rows = await db.query<{ username: string }>(
    'SELECT username FROM users WHERE lower(email) = lower($1) AND username <> $2',
    [email, username],
  );
  return rows.length > 0;
}

export async function findUserForImport(
  db: Queryable,
  username: string,
): Promise<ExistingImportUser | undefined> {
  const [row] = await db.query<ExistingImportUser>(
    'SELECT id, password_hash, email, realname, comment, sysadmin FROM users WHERE username = $1',
    [username],
  );
  return row;
}

/** Creates the user; `createdAt` null: now. */
export async function insertImportedUser(
  db: Queryable,
  user: ImportedUserFields & { username: string; passwordHash: string; createdAt: string | null },
): Promise<number> {
  const rows = await db.query<{ id: number }>(
    `INSERT INTO users (username, password_hash, email, realname, comment, sysadmin, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7::timestamptz, now())) RETURNING id`,
    [
      user.username,
      user.passwordHash,
      user.email,
      user.realname,
      user.comment,
      user.sysadmin,
      user.createdAt,
    ],
  );
  return (rows[0] as { id: number }).id;
}

/** Sets the user's fields, and its password hash when `passwordHash` is given. */
export async function updateImportedUser(
  db: Queryable,
  id: number,
  fields: ImportedUserFields,
  passwordHash: string | null,
): Promise<void> {
  await db.query(
    `UPDATE users SET email = $2, realname = $3, comment = $4, sysadmin = $5,
       password_hash = CASE WHEN $6 THEN $7 ELSE password_hash END, updated_at = now()
     WHERE id = $1`,
    [
      id,
      fields.email,
      fields.realname,
      fields.comment,
      fields.sysadmin,
      passwordHash !== null,
      passwordHash ?? '',
    ],
  );
}

/** Creates the project (without metadata); `createdAt` null: now. */
export async function insertImportedProject(
  db: Queryable,
  name: string,
  ownerId: number | null,
  createdAt: string | null,
): Promise<number> {
  const rows = await db.query<{ id: number }>(
    `INSERT INTO projects (name, owner_id, created_at) VALUES ($1, $2, COALESCE($3::timestamptz, now()))
     RETURNING id`,
    [name, ownerId, createdAt],
  );
  return (rows[0] as { id: number }).id;
}

export async function setProjectOwner(
  db: Queryable,
  projectId: number,
  ownerId: number | null,
): Promise<void> {
  await db.query('UPDATE projects SET owner_id = $2, updated_at = now() WHERE id = $1', [projectId, ownerId]);
}

/** A robot's fields the import compares with Harbor's. */
export interface ImportedRobotFields {
  description: string;
  level: string;
  project_id: number | null;
  duration: number;
  /** ISO 8601 in UTC, so that stored and imported values compare as text. */
  expires_at: string | null;
  creator: string;
}

export interface ExistingImportRobot extends ImportedRobotFields {
  id: number;
  disabled: boolean;
  secret_hash: string;
  permissions: RobotPermission[];
}

export async function findRobotForImport(
  db: Queryable,
  name: string,
): Promise<ExistingImportRobot | undefined> {
  const [row] = await db.query<ExistingImportRobot>(
    `SELECT id, description, level, project_id, duration, to_char(expires_at AT TIME ZONE 'UTC',
       'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS expires_at, creator, disabled, secret_hash, permissions
     FROM robots WHERE name = $1`,
    [name],
  );
  return row;
}

export async function insertImportedRobot(
  db: Queryable,
  robot: ImportedRobotFields & {
    name: string;
    secretHash: string;
    disabled: boolean;
    permissions: readonly RobotPermission[];
    createdAt: string | null;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO robots (name, description, secret_hash, level, project_id, duration, expires_at, disabled,
       creator, permissions, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8, $9, $10::jsonb, COALESCE($11::timestamptz, now()))`,
    [
      robot.name,
      robot.description,
      robot.secretHash,
      robot.level,
      robot.project_id,
      robot.duration,
      robot.expires_at,
      robot.disabled,
      robot.creator,
      JSON.stringify(robot.permissions),
      robot.createdAt,
    ],
  );
}

/**
 * Sets the robot's fields; `access` (disabled and permissions) only when given, and the secret
 * hash only when `secretHash` is given.
 */
export async function updateImportedRobot(
  db: Queryable,
  id: number,
  fields: ImportedRobotFields,
  access: { disabled: boolean; permissions: readonly RobotPermission[] } | null,
  secretHash: string | null,
): Promise<void> {
  await db.query(
    `UPDATE robots SET description = $2, level = $3, project_id = $4, duration = $5, expires_at = $6::timestamptz,
       creator = $7, disabled = CASE WHEN $8 THEN $9 ELSE disabled END,
       permissions = CASE WHEN $8 THEN $10::jsonb ELSE permissions END,
       secret_hash = CASE WHEN $11 THEN $12 ELSE secret_hash END, updated_at = now()
     WHERE id = $1`,
    [
      id,
      fields.description,
      fields.level,
      fields.project_id,
      fields.duration,
      fields.expires_at,
      fields.creator,
      access !== null,
      access?.disabled ?? false,
      JSON.stringify(access?.permissions ?? []),
      secretHash !== null,
      secretHash ?? '',
    ],
  );
}
