import type { Database } from '../../metadata/database.js';
import {
  acquireGcLease,
  currentGcLease,
  releaseGcLease,
  renewGcLease,
  type GcLease,
} from '../../metadata/gc-lease-table.js';

// One garbage collection at a time, cluster-wide, whoever started it (a job, a schedule, the
// CLI): the run holds a lease row it renews while working. A run that finds the lease taken ends
// at once (GcAlreadyRunningError) rather than waiting: the run in progress collects the same
// garbage. The lease is about not doing the work twice; safety never depends on it (each deletion
// rechecks under the blob's exclusive lock), so a lease lost to a stalled process is harmless.

/** How long a lease holds without renewal: a killed run's lease frees itself after this. */
export const GC_LEASE_TTL_MS = 60_000;

export class GcAlreadyRunningError extends Error {
  constructor(readonly lease: GcLease) {
    super(`another garbage collection is running (${lease.holder}, since ${lease.acquiredAt.toISOString()})`);
    this.name = 'GcAlreadyRunningError';
  }
}

/** The run holding the lease, or null when no garbage collection is running (for the API). */
export function runningGc(db: Database): Promise<GcLease | null> {
  return currentGcLease(db);
}

/**
 * Runs `fn` holding the lease as `holder`; `fn`'s signal also fires when the lease is lost
 * (expired and taken while this process was stalled), so the run stops instead of racing.
 */
export async function withGcLease<T>(
  db: Database,
  holder: string,
  signal: AbortSignal,
  fn: (signal: AbortSignal) => Promise<T>,
  ttlMs = GC_LEASE_TTL_MS,
): Promise<T> {
  const held = await acquireGcLease(db, holder, ttlMs);
  if (held) throw new GcAlreadyRunningError(held);
  const lost = new AbortController();
  const timer = setInterval(() => {
    renewGcLease(db, holder, ttlMs).then(
      (renewed) => {
        if (!renewed) lost.abort(new Error('the garbage collection lease was lost'));
      },
      // A database that is away fails the run's own statements too; the lease runs out meanwhile.
      () => undefined,
    );
  }, ttlMs / 3);
  try {
    return await fn(AbortSignal.any([signal, lost.signal]));
  } finally {
    clearInterval(timer);
    await releaseGcLease(db, holder).catch(() => undefined);
  }
}
