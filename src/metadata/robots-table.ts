import type { Queryable } from './database.js';

export interface RobotAccess {
  resource: string;
  action: string;
  effect?: string;
}

export interface RobotPermission {
  kind: string;
  namespace: string;
  access: RobotAccess[];
}

export interface RobotRow {
  id: number;
  name: string;
  description: string;
  secret_hash: string;
  level: 'system' | 'project';
  project_id: number | null;
  duration: number;
  expires_at: Date | null;
  disabled: boolean;
  creator: string;
  permissions: RobotPermission[];
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, name, description, secret_hash, level, project_id, duration, expires_at, disabled, creator,
  permissions, created_at, updated_at`;

export async function findRobotByName(db: Queryable, name: string): Promise<RobotRow | null> {
  const rows = await db.query<RobotRow>(`SELECT ${COLUMNS} FROM robots WHERE name = $1`, [name]);
  return rows[0] ?? null;
}

export async function findRobotById(db: Queryable, id: number): Promise<RobotRow | null> {
  const rows = await db.query<RobotRow>(`SELECT ${COLUMNS} FROM robots WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export interface NewRobot {
  name: string;
  description: string;
  secretHash: string;
  level: 'system' | 'project';
  projectId: number | null;
  /** Days; -1 never expires. expires_at is computed from the database's clock. */
  duration: number;
  disabled: boolean;
  creator: string;
  permissions: RobotPermission[];
}

/** Inserts a robot; null when the name is taken. */
export async function insertRobot(db: Queryable, robot: NewRobot): Promise<RobotRow | null> {
  const rows = await db.query<RobotRow>(
    `INSERT INTO robots (name, description, secret_hash, level, project_id, duration, expires_at, disabled, creator, permissions)
     VALUES ($1, $2, $3, $4, $5, $6::integer,
       CASE WHEN $6::integer = -1 THEN NULL ELSE now() + make_interval(days => $6::integer) END,
       $7, $8, $9::jsonb)
     ON CONFLICT (name) DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      robot.name,
      robot.description,
      robot.secretHash,
      robot.level,
      robot.projectId,
      robot.duration,
      robot.disabled,
      robot.creator,
      JSON.stringify(robot.permissions),
    ],
  );
  return rows[0] ?? null;
}

export interface RobotChanges {
  description?: string;
  /** Days from the robot's creation; -1 never expires. */
  duration?: number;
  disabled?: boolean;
  permissions?: RobotPermission[];
  secretHash?: string;
}

/** Applies the given changes; the row after the update, or null when the robot is gone. */
export async function updateRobot(
  db: Queryable,
  id: number,
  changes: RobotChanges,
): Promise<RobotRow | null> {
  const rows = await db.query<RobotRow>(
    `UPDATE robots SET
       description = COALESCE($2, description),
       duration = COALESCE($3::integer, duration),
       expires_at = CASE
         WHEN $3::integer IS NULL THEN expires_at
         WHEN $3::integer = -1 THEN NULL
         ELSE created_at + make_interval(days => $3::integer) END,
       disabled = COALESCE($4, disabled),
       permissions = COALESCE($5::jsonb, permissions),
       secret_hash = COALESCE($6, secret_hash),
       updated_at = now()
     WHERE id = $1
     RETURNING ${COLUMNS}`,
    [
      id,
      changes.description ?? null,
      changes.duration ?? null,
      changes.disabled ?? null,
      changes.permissions ? JSON.stringify(changes.permissions) : null,
      changes.secretHash ?? null,
    ],
  );
  return rows[0] ?? null;
}

export async function deleteRobot(db: Queryable, id: number): Promise<boolean> {
  const rows = await db.query<{ id: number }>('DELETE FROM robots WHERE id = $1 RETURNING id', [id]);
  return rows.length > 0;
}

export interface RobotListFilter {
  level?: 'system' | 'project';
  projectId?: number;
  /** Exact full name (robot$...). */
  name?: string;
  /** Substring of the full name. */
  nameLike?: string;
}

/** One page of robots, ordered by id, with the total. */
export async function listRobots(
  db: Queryable,
  filter: RobotListFilter,
  offset: number,
  limit: number,
): Promise<{ items: RobotRow[]; total: number }> {
  const where = `($1::text IS NULL OR level = $1)
    AND ($2::bigint IS NULL OR project_id = $2)
    AND ($3::text IS NULL OR name = $3)
    AND ($4::text IS NULL OR strpos(name, $4) > 0)`;
  const params = [
    filter.level ?? null,
    filter.projectId ?? null,
    filter.name ?? null,
    filter.nameLike ?? null,
  ];
  const total = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM robots WHERE ${where}`, params);
  const items = await db.query<RobotRow>(
    `SELECT ${COLUMNS} FROM robots WHERE ${where} ORDER BY id LIMIT $5 OFFSET $6`,
    [...params, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}
