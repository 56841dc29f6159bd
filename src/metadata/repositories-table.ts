import { DomainError } from '../domain/errors.js';
import type { Queryable } from './database.js';

export interface RepositoryRow {
  id: number;
  name: string;
}

export async function findRepository(db: Queryable, name: string): Promise<RepositoryRow | null> {
  const rows = await db.query<RepositoryRow>('SELECT id, name FROM repositories WHERE name = $1', [name]);
  return rows[0] ?? null;
}

/** Returns the repository, creating it on first push. Safe under concurrent calls. */
export async function ensureRepository(db: Queryable, name: string): Promise<RepositoryRow> {
  // Nearly always the repository exists already: one indexed read, no write.
  const found = await findRepository(db, name);
  if (found) return found;
  // The project is the first path component; it must exist (pushes never create projects).
  const inserted = await db.query<RepositoryRow>(
    `INSERT INTO repositories (name, project_id)
     SELECT $1, p.id FROM projects p WHERE p.name = split_part($1, '/', 1)
     ON CONFLICT (name) DO NOTHING RETURNING id, name`,
    [name],
  );
  if (inserted[0]) return inserted[0];
  const existing = await findRepository(db, name);
  if (!existing) throw new ProjectMissingError(name.split('/')[0] as string);
  return existing;
}

/** One page of repository names in byte order, strictly after `last`. Index range scan. */
export async function listRepositoryNames(
  db: Queryable,
  last: string | undefined,
  limit: number,
): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT name FROM repositories
     WHERE ($1::text IS NULL OR name > $1)
     ORDER BY name LIMIT $2`,
    [last ?? null, limit],
  );
  return rows.map((r) => r.name);
}

/** Locks a repository row until the transaction ends (writes of its tags wait meanwhile). */
export async function lockRepository(db: Queryable, id: number): Promise<void> {
  await db.query('SELECT id FROM repositories WHERE id = $1 FOR UPDATE', [id]);
}

/**
 * Share-locks a repository row until the transaction ends: writes that only add (pushes) run
 * side by side, a deletion (lockRepository) waits for them and they for it. KEY SHARE, the
 * weakest lock FOR UPDATE waits for: an update of the row's counters (pull counts, applied by
 * the event dispatcher) does not wait for a push, so it cannot close a deadlock with one.
 */
export async function lockRepositoryForShare(db: Queryable, id: number): Promise<void> {
  await db.query('SELECT id FROM repositories WHERE id = $1 FOR KEY SHARE', [id]);
}

export async function touchRepository(db: Queryable, id: number): Promise<void> {
  await db.query('UPDATE repositories SET updated_at = now() WHERE id = $1', [id]);
}

/** A repository cannot be created because its project does not exist. */
export class ProjectMissingError extends DomainError {
  constructor(readonly project: string) {
    super('PROJECT_MISSING', `project ${project} does not exist; create it first`);
    this.name = 'ProjectMissingError';
  }
}
