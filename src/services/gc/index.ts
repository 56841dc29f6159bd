// Online garbage collection (docs/lifecycle.md): the engine, its job type and its parameters.
export { GC_ACTOR, type GcDeps } from './gc-context.js';
export { gcJobType } from './gc-job.js';
export { GC_LEASE_TTL_MS, GcAlreadyRunningError, runningGc } from './gc-lease.js';
export {
  DEFAULT_GC_PARAMETERS,
  GC_JOB_TYPE,
  GC_MAX_WORKERS,
  parseGcParameters,
  type GcParameters,
} from './gc-parameters.js';
export { runGc, type GcRunOptions } from './gc-run.js';
export { describeSummary, formatBytes, type GcSummary } from './gc-summary.js';
export { actOnUnclaimedBlob } from './unclaimed-blob.js';
