import type { Database } from '../../metadata/database.js';
import type { StaleLink } from '../../metadata/gc-queries.js';
import type { CascadeRow } from '../../metadata/artifact-deletion-queries.js';
import type { EventActor } from '../../domain/events.js';
import type { StorageDriver } from '../../storage/driver.js';
import type { GcParameters } from './gc-parameters.js';
import type { GcSummary } from './gc-summary.js';

/** What garbage collection works with. */
export interface GcDeps {
  db: Database;
  storage: StorageDriver;
  /** The artifact core's delete (ArtifactService.deleteArtifact): GC deletes manifests through it. */
  artifacts: {
    deleteArtifact(
      repository: string,
      reference: string,
      actor: EventActor,
      options: { onlyIfUntaggedBefore?: Date; planOnly?: boolean },
    ): Promise<CascadeRow[]>;
  };
  /** gc.grace_period_minutes. */
  gracePeriodMinutes: number;
}

/** One run's state, shared by its steps. */
export interface GcRun {
  deps: GcDeps;
  params: GcParameters;
  /** The database's now() at the start minus the grace period: nothing younger is collected. */
  cutoff: Date;
  signal: AbortSignal;
  log(line: string): void;
  summary: GcSummary;
  /** Dry run: what the earlier steps would have deleted, so later steps count as a real run would. */
  planned: { manifestIds: number[]; links: StaleLink[] };
}

/** The actor of GC's deletions in events and the audit log. */
export const GC_ACTOR: EventActor = { name: 'gc', kind: 'system', clientIp: null };

/** Rows read per page when looking for candidates. */
export const GC_PAGE = 500;

/**
 * Runs `fn` over `items`, `workers` at a time, stopping (with the signal's reason) as soon as the
 * run is stopped or one call fails. Settles only when every worker has: no deletion of a stopped
 * or failed run is still going on after it returns.
 */
export async function forEachParallel<T>(
  items: readonly T[],
  workers: number,
  signal: AbortSignal,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      signal.throwIfAborted();
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const outcomes = await Promise.allSettled(Array.from({ length: Math.min(workers, items.length) }, worker));
  const failure = outcomes.find((o) => o.status === 'rejected');
  if (failure) throw failure.reason;
}
