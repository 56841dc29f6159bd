import { ServiceError } from '../service-error.js';

/** The job type of a garbage collection run (the jobs table, schedules, /system/gc). */
export const GC_JOB_TYPE = 'GARBAGE_COLLECTION';

/** What one run is asked to do (Harbor's job parameters delete_untagged, dry_run, workers). */
export interface GcParameters {
  /** Also delete artifacts without a tag (those no index lists and no present subject owns). */
  deleteUntagged: boolean;
  /** Count what a real run would delete; change nothing. */
  dryRun: boolean;
  /** Blobs deleted in parallel, 1 to 5 (Harbor's range). */
  workers: number;
}

export const GC_MAX_WORKERS = 5;

export const DEFAULT_GC_PARAMETERS: GcParameters = { deleteUntagged: false, dryRun: false, workers: 1 };

function flag(value: unknown, name: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ServiceError('invalid', `${name} must be true or false`);
}

function workerCount(value: unknown): number {
  if (value === undefined || value === null) return 1;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > GC_MAX_WORKERS) {
    throw new ServiceError('invalid', `workers must be an integer from 1 to ${GC_MAX_WORKERS}`);
  }
  return n;
}

/**
 * Reads a run's parameters from a job payload or a request: the names as Harbor's job
 * parameters (delete_untagged, dry_run, workers) or as this interface's (deleteUntagged, ...).
 * Anything else that is not an object, or a value of the wrong kind, is a bad request.
 */
export function parseGcParameters(payload: unknown): GcParameters {
  if (payload === undefined || payload === null) return { ...DEFAULT_GC_PARAMETERS };
  if (typeof payload !== 'object' || Array.isArray(payload)) {
    throw new ServiceError('invalid', 'garbage collection parameters must be an object');
  }
  const p = payload as Record<string, unknown>;
  return {
    deleteUntagged: flag(p.delete_untagged ?? p.deleteUntagged, 'delete_untagged'),
    dryRun: flag(p.dry_run ?? p.dryRun, 'dry_run'),
    workers: workerCount(p.workers),
  };
}
