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
