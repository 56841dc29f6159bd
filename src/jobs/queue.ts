// What a job type is: its handler and its retry, lease and concurrency rules. Pure code; the
// SQL lives in metadata/jobs-table.ts, the running in worker-pool.ts.
//
// Why not a queue library: pg-boss (12.38, the maintained PostgreSQL queue for Node) was tried
// over the project's Database interface on PGlite and on node-postgres. It sends multi-statement
// scripts (BEGIN; SELECT pg_advisory_xact_lock(..); ...; COMMIT) through `executeSql` and needs
// the rows of every statement back; `Database.query` runs one statement (prepared statements on
// both adapters: "cannot insert multiple commands into a prepared statement") and
// `execScript` returns no rows, so claims fail its "bam claim returned no lock row" check. It
// would also keep its own schema and migrations outside Wharf's. The queue here is one table
// claimed with SELECT ... FOR UPDATE SKIP LOCKED and a lease column (docs/jobs.md).

/** What a handler gets: the job, a signal that fires on stop, shutdown or a lost lease, a log. */
export interface JobContext {
  id: number;
  type: string;
  payload: unknown;
  /** 1 for the first run, 2 for the first retry, ... */
  attempt: number;
  signal: AbortSignal;
  /** Appends a line to the job's log (stored in the database, readable from any instance). */
  log(line: string): void;
}

/**
 * Does the job's work. Must be idempotent: a job may run again after a crash or a lost lease,
 * possibly after part of its work was done. Should stop soon after `signal` fires. A returned
 * line is the job's outcome in its log, in place of "succeeded" (a step that skipped its work
 * says so, once). Throwing FinalJobFailure ends the job in error at once, without a retry.
 */
export type JobHandler = (job: JobContext) => Promise<void | string>;

/**
 * A failure the handler has recorded as final (e.g. a replication task marked Failed): the job
 * ends in error without a retry, and its message is the one outcome line of the log, so the log
 * never says "succeeded" after a failed step.
 */
export class FinalJobFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FinalJobFailure';
  }
}

/**
 * maxAttempts of job types whose retries a deadline ends, not a count: their logs number the
 * attempts without an "of N" (a million is no count a reader can use).
 */
export const RETRY_UNTIL_DEADLINE = 1_000_000;

export interface JobTypeOptions {
  /** Attempts before a failing job ends in error (default 3). */
  maxAttempts?: number;
  /** Milliseconds after enqueueing when failures become final (default none). */
  deadlineMs?: number | null;
  /** First retry delay; each further retry doubles it, up to backoffMaxMs (defaults 1 s, 10 min). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** How long a claim holds without renewal (default 30 s); heartbeats renew it at a third. */
  leaseMs?: number;
  /** Jobs of this type one instance runs at once (default jobservice.max_job_workers). */
  concurrency?: number;
}

/** A job type a feature owns, registered on the job service by the composition root. */
export interface JobTypeDefinition {
  type: string;
  handler: JobHandler;
  options?: JobTypeOptions;
}

export type ResolvedJobType = Required<JobTypeOptions> & { type: string; handler: JobHandler };

export const JOB_DEFAULTS = {
  maxAttempts: 3,
  deadlineMs: null,
  backoffBaseMs: 1_000,
  backoffMaxMs: 10 * 60_000,
  leaseMs: 30_000,
} as const;

/** Job types are names in URLs and logs: keep them simple. 'all' means every type in the API. */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export function resolveJobType(
  type: string,
  handler: JobHandler,
  options: JobTypeOptions,
  defaultConcurrency: number,
): ResolvedJobType {
  if (!TYPE_NAME.test(type) || type === 'all') throw new Error(`invalid job type name: ${type}`);
  const resolved: ResolvedJobType = {
    type,
    handler,
    maxAttempts: options.maxAttempts ?? JOB_DEFAULTS.maxAttempts,
    deadlineMs: options.deadlineMs ?? JOB_DEFAULTS.deadlineMs,
    backoffBaseMs: options.backoffBaseMs ?? JOB_DEFAULTS.backoffBaseMs,
    backoffMaxMs: options.backoffMaxMs ?? JOB_DEFAULTS.backoffMaxMs,
    leaseMs: options.leaseMs ?? JOB_DEFAULTS.leaseMs,
    concurrency: options.concurrency ?? defaultConcurrency,
  };
  if (!Number.isInteger(resolved.maxAttempts) || resolved.maxAttempts < 1) {
    throw new Error(`${type}: maxAttempts must be a positive integer`);
  }
  if (!Number.isInteger(resolved.concurrency) || resolved.concurrency < 1) {
    throw new Error(`${type}: concurrency must be a positive integer`);
  }
  if (resolved.leaseMs < 1_000) throw new Error(`${type}: leaseMs must be at least 1000`);
  return resolved;
}

/**
 * Delay before retry number `attempt` (the attempt that just failed: 1, 2, ...): exponential,
 * capped, with up to 20% random jitter so that jobs failing together do not retry together.
 */
export function backoffMs(
  attempt: number,
  options: { backoffBaseMs: number; backoffMaxMs: number },
  random: () => number = Math.random,
): number {
  const exponential = options.backoffBaseMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(options.backoffMaxMs, exponential);
  return Math.round(capped * (1 + 0.2 * random()));
}

/** Error text for the job row and log: the message, never a stack (it may name internals). */
export function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
}
