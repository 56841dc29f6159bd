import type { Queryable } from './database.js';

// Replacing a stored hash by a stronger one of the same secret, at login. Both are compare-and-
// swap: a password change or secret refresh that lands between the check and the upgrade wins,
// and the old secret is never brought back.

/** Replaces a user's hash if it is still `oldHash`; true when replaced. Sessions are kept. */
export async function upgradeUserPasswordHash(
  db: Queryable,
  userId: number,
  oldHash: string,
  newHash: string,
): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    'UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2 RETURNING id',
    [userId, oldHash, newHash],
  );
  return rows.length > 0;
}

/** Replaces a robot's secret hash if it is still `oldHash`; true when replaced. */
export async function upgradeRobotSecretHash(
  db: Queryable,
  robotId: number,
  oldHash: string,
  newHash: string,
): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    'UPDATE robots SET secret_hash = $3 WHERE id = $1 AND secret_hash = $2 RETURNING id',
    [robotId, oldHash, newHash],
  );
  return rows.length > 0;
}
