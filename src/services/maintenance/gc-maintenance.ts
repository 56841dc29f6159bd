import { GC_JOB_TYPE, parseGcParameters, runningGc } from '../gc/index.js';
import type { MaintenanceKind } from './maintenance-jobs.js';

// Garbage collection as a maintenance kind (/system/gc): its runs' parameters in Harbor's names
// (delete_untagged, dry_run, workers 1..5), checked when a run or a schedule is asked for, so a
// bad value is a 400 and never a failed job. A run the CLI (`wharf gc`) holds the lease for is
// busy too: a run started meanwhile would only end in error.

export const gcKind: MaintenanceKind = {
  type: GC_JOB_TYPE,
  noun: 'garbage collection',
  parameters: (raw) => {
    const p = parseGcParameters(raw);
    return { delete_untagged: p.deleteUntagged, dry_run: p.dryRun, workers: p.workers };
  },
  busy: async (db) => {
    const lease = await runningGc(db);
    return lease ? `a garbage collection is running (${lease.holder})` : undefined;
  },
};
