import type { Queryable } from './database.js';

export interface PullCount {
  repository: string;
  digest: string;
  tag: string | null;
  count: number;
  time: Date;
}

/** Applies a batch of pulls: repository pull counts, manifest and tag pull times. */
export async function applyPulls(db: Queryable, pulls: readonly PullCount[]): Promise<void> {
  if (pulls.length === 0) return;
  const repositories = pulls.map((p) => p.repository);
  const digests = pulls.map((p) => p.digest);
  const tags = pulls.map((p) => p.tag);
  const counts = pulls.map((p) => String(p.count));
  const times = pulls.map((p) => p.time.toISOString());
  const batch = [repositories, digests, tags, counts, times];
  const pullsOf = `SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[])
    AS t(repository, digest, tag, n, at)`;
  // The repository rows first, in id order, with the lock the count update needs (never raised
  // later: a raise deadlocks with a deletion queued for the row). A deletion locks its repository
  // before its manifests and a push never updates the row inside its transaction, so whoever
  // waits here holds no manifest or tag row. GREATEST: a batch redelivered late (a consumer's
  // backlog) never moves a pull time back.
  await db.query('SELECT id FROM repositories WHERE name = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE', [
    [...new Set(repositories)],
  ]);
  await db.query(
    `UPDATE manifests m SET pull_time = GREATEST(m.pull_time, s.at)
     FROM (SELECT repository, digest, max(at) AS at FROM (${pullsOf}) p GROUP BY repository, digest) s
     JOIN repositories r ON r.name = s.repository
     WHERE m.repository_id = r.id AND m.digest = s.digest`,
    batch,
  );
  await db.query(
    `UPDATE tags t SET pull_time = GREATEST(t.pull_time, s.at)
     FROM (SELECT repository, tag, max(at) AS at FROM (${pullsOf}) p WHERE tag IS NOT NULL GROUP BY repository, tag) s
     JOIN repositories r ON r.name = s.repository
     WHERE t.repository_id = r.id AND t.name = s.tag`,
    batch,
  );
  await db.query(
    `UPDATE repositories r SET pull_count = r.pull_count + s.n
     FROM (SELECT repository, sum(n) AS n FROM (${pullsOf}) p GROUP BY repository) s
     WHERE r.name = s.repository`,
    batch,
  );
}
