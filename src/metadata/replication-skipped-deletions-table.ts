import type { Queryable } from './database.js';

// SQL of replication_skipped_deletions (migration 013): deletions a policy's destination cannot
// perform, kept so that later runs do not plan them again while the obstacle lasts.

export interface SkippedDeletion {
  repository: string;
  tag: string;
  digest: string;
  reason: string;
  recordedAt: Date;
}

/** Remembers (or refreshes) that deleting `repository:tag` (at `digest`) is impossible there. */
export async function recordSkippedDeletion(
  db: Queryable,
  policyId: number,
  skip: Omit<SkippedDeletion, 'recordedAt'>,
): Promise<void> {
  await db.query(
    `INSERT INTO replication_skipped_deletions (policy_id, repository, tag, digest, reason)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (policy_id, repository, tag)
     DO UPDATE SET digest = EXCLUDED.digest, reason = EXCLUDED.reason, recorded_at = now()`,
    [policyId, skip.repository, skip.tag, skip.digest, skip.reason.slice(0, 2_000)],
  );
}

/** The policy's skipped deletions (few: one per tag a destination could not delete). */
export async function listSkippedDeletions(db: Queryable, policyId: number): Promise<SkippedDeletion[]> {
  const rows = await db.query<{
    repository: string;
    tag: string;
    digest: string;
    reason: string;
    recorded_at: Date;
  }>(
    `SELECT repository, tag, digest, reason, recorded_at FROM replication_skipped_deletions
     WHERE policy_id = $1 ORDER BY repository, tag`,
    [policyId],
  );
  return rows.map((r) => ({
    repository: r.repository,
    tag: r.tag,
    digest: r.digest,
    reason: r.reason,
    recordedAt: r.recorded_at,
  }));
}

/** Forgets skips whose obstacle is gone (the planner decided so from both sides' listings). */
export async function forgetSkippedDeletions(
  db: Queryable,
  policyId: number,
  keys: ReadonlyArray<{ repository: string; tag: string }>,
): Promise<void> {
  if (keys.length === 0) return;
  await db.query(
    `DELETE FROM replication_skipped_deletions d
     USING unnest($2::text[], $3::text[]) AS k(repository, tag)
     WHERE d.policy_id = $1 AND d.repository = k.repository AND d.tag = k.tag`,
    [policyId, keys.map((k) => k.repository), keys.map((k) => k.tag)],
  );
}
