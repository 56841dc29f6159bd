import { FinalJobFailure, type JobTypeDefinition } from '../../jobs/queue.js';
import type { GcDeps } from './gc-context.js';
import { GcAlreadyRunningError } from './gc-lease.js';
import { GC_JOB_TYPE, parseGcParameters, type GcParameters } from './gc-parameters.js';
import { runGc } from './gc-run.js';
import { describeSummary } from './gc-summary.js';

/**
 * The garbage collection job type: manual runs, schedules (/system/gc) and anything else that
 * enqueues one. Its log holds the run's progress; its outcome line, the summary in words. A run
 * that finds another in progress ends at once in error, saying so (the running one does the
 * work). A retried run (its instance died) takes its own lease back and finishes the work.
 */
export function gcJobType(deps: GcDeps): JobTypeDefinition {
  return {
    type: GC_JOB_TYPE,
    handler: async (job) => {
      let params: GcParameters;
      try {
        params = parseGcParameters(job.payload);
      } catch (err) {
        throw new FinalJobFailure(`invalid parameters: ${(err as Error).message}`);
      }
      try {
        const summary = await runGc(deps, params, {
          holder: `job ${job.id}`,
          signal: job.signal,
          log: (line) => job.log(line),
        });
        return describeSummary(summary);
      } catch (err) {
        if (err instanceof GcAlreadyRunningError)
          throw new FinalJobFailure(`${err.message}; this run did nothing`);
        throw err;
      }
    },
    // One run per instance (the lease makes it one per cluster); stops and leases as any job.
    options: { concurrency: 1, maxAttempts: 3 },
  };
}
