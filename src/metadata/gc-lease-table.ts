import type { Queryable } from './database.js';

// The one-row lease that lets one garbage collection run at a time cluster-wide (migration 019).

export interface GcLease {
  holder: string;
  acquiredAt: Date;
  expiresAt: Date;
}

/**
 * Takes the lease for `holder` when it is free, expired, or held by the same holder already (a
 * job retried after its instance died takes its own lease back). Returns null when it did, else
 * the lease that another run holds.
 */
export async function acquireGcLease(db: Queryable, holder: string, ttlMs: number): Promise<GcLease | null> {
  const taken = await db.query(
    `INSERT INTO gc_lease (singleton, holder, acquired_at, expires_at)
     VALUES (true, $1, now(), now() + $2::double precision * interval '1 millisecond')
     ON CONFLICT (singleton) DO UPDATE
       SET holder = EXCLUDED.holder, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
       WHERE gc_lease.expires_at < now() OR gc_lease.holder = EXCLUDED.holder
     RETURNING holder`,
    [holder, ttlMs],
  );
  if (taken.length > 0) return null;
  return (await currentGcLease(db)) ?? { holder: 'unknown', acquiredAt: new Date(), expiresAt: new Date() };
}

/** Extends the holder's lease; false when it was lost (expired and taken by another run). */
export async function renewGcLease(db: Queryable, holder: string, ttlMs: number): Promise<boolean> {
  const rows = await db.query(
    `UPDATE gc_lease SET expires_at = now() + $2::double precision * interval '1 millisecond'
     WHERE holder = $1 RETURNING holder`,
    [holder, ttlMs],
  );
  return rows.length > 0;
}

export async function releaseGcLease(db: Queryable, holder: string): Promise<void> {
  await db.query('DELETE FROM gc_lease WHERE holder = $1', [holder]);
}

/** The lease of the run in progress, or null when none holds a live one. */
export async function currentGcLease(db: Queryable): Promise<GcLease | null> {
  const rows = await db.query<{ holder: string; acquired_at: Date; expires_at: Date }>(
    'SELECT holder, acquired_at, expires_at FROM gc_lease WHERE expires_at >= now()',
  );
  const row = rows[0];
  return row ? { holder: row.holder, acquiredAt: row.acquired_at, expiresAt: row.expires_at } : null;
}
