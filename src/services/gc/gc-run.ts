import { gcCutoff } from '../../metadata/gc-queries.js';
import { collectBlobs, finishInterruptedDeletions, removeStaleLinks } from './gc-blob-steps.js';
import type { GcDeps, GcRun } from './gc-context.js';
import { withGcLease } from './gc-lease.js';
import type { GcParameters } from './gc-parameters.js';
import { purgeAbandonedUploads, removeOrphanBlobs } from './gc-storage-sweep.js';
import { describeSummary, emptySummary, type GcSummary } from './gc-summary.js';
import { deleteUntaggedArtifacts } from './gc-untagged.js';

// One garbage collection run, online (docs/lifecycle.md): no read-only window, every deletion
// decided again under the blob's lock, every step idempotent, so a run stopped or killed at any
// point leaves a consistent store and the next run finishes what it began.

export interface GcRunOptions {
  /** Names the run in the cluster-wide lease (a job id, the CLI's process). */
  holder: string;
  /** Stops the run between deletions (the job service's stop, Ctrl-C). */
  signal?: AbortSignal;
  /** Progress lines (the job log, the CLI's stderr). */
  log?: (line: string) => void;
}

const STEPS: readonly ((run: GcRun) => Promise<void>)[] = [
  finishInterruptedDeletions,
  (run) => (run.params.deleteUntagged ? deleteUntaggedArtifacts(run) : Promise.resolve()),
  removeStaleLinks,
  collectBlobs,
  removeOrphanBlobs,
  purgeAbandonedUploads,
];

async function steps(run: GcRun): Promise<void> {
  for (const step of STEPS) {
    // Steps check the signal between deletions too; this catches a stop during a step that had none left.
    run.signal.throwIfAborted();
    await step(run);
  }
}

/**
 * Runs one garbage collection holding the cluster-wide lease; throws GcAlreadyRunningError when
 * another run holds it, and the signal's reason when stopped (after logging what was done).
 */
export async function runGc(deps: GcDeps, params: GcParameters, options: GcRunOptions): Promise<GcSummary> {
  const log = options.log ?? (() => undefined);
  const signal = options.signal ?? new AbortController().signal;
  return withGcLease(deps.db, options.holder, signal, async (leaseSignal) => {
    const cutoff = await gcCutoff(deps.db, deps.gracePeriodMinutes);
    log(
      `garbage collection ${params.dryRun ? '(dry run) ' : ''}started: delete_untagged=${params.deleteUntagged}, ` +
        `workers=${params.workers}, grace period ${deps.gracePeriodMinutes} minutes ` +
        `(nothing created or used after ${cutoff.toISOString()} is collected)`,
    );
    const run: GcRun = {
      deps,
      params,
      cutoff,
      signal: leaseSignal,
      log,
      summary: emptySummary(params.dryRun),
      planned: { manifestIds: [], links: [] },
    };
    try {
      await steps(run);
    } catch (err) {
      if (leaseSignal.aborted) log(`stopped; until then: ${describeSummary(run.summary)}`);
      throw err;
    }
    log(describeSummary(run.summary));
    return run.summary;
  });
}
