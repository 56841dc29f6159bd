import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../metadata/database.js';
import {
  claimJobs,
  deletePool,
  findJob,
  findPool,
  insertJob,
  listLivePools,
  listQueues,
  listRunningJobsOf,
  purgeFinishedJobs,
  reclaimExpired,
  requestStop,
  resumeAllQueues,
  setQueuePaused,
  stopPendingJobs,
  upsertPool,
  type JobRow,
  type JobStatus,
  type PoolRow,
  type QueueRow,
} from '../metadata/jobs-table.js';
/** Jobs and worker pools as the job service API shows them. */
export type { JobRow, PoolRow } from '../metadata/jobs-table.js';
import {
  deleteSchedule,
  findSchedule,
  listSchedules,
  setSchedulePaused,
  type ScheduleRow,
} from '../metadata/schedules-table.js';
import { JobLogWriter, jobLogText } from './job-log.js';
import { resolveJobType, type JobHandler, type JobTypeOptions, type ResolvedJobType } from './queue.js';
import { fireDueSchedules, saveSchedule, type ScheduleJobRules } from './schedules.js';
import { WorkerPool } from './worker-pool.js';

// The durable job service every instance runs: job types registered per instance (the same code
// everywhere), jobs and schedules in the shared database. Each instance polls for due jobs of
// its types, takes over jobs whose lease expired, fires due schedules, and runs at most
// `concurrency` jobs of a type at once. See docs/jobs.md.

export interface JobServiceOptions {
  db: Database;
  /** Shown as the pool's host (X-Wharf-Instance's name). */
  instanceName: string;
  /** Default per-type concurrency: jobservice.max_job_workers. */
  maxJobWorkers: number;
  /** How often to look for due jobs, expired leases and due schedules (default 1 s). */
  pollMs?: number;
  /** How often running jobs' stop flags are checked (default 0.5 s). */
  stopCheckMs?: number;
  /** Finished jobs and their logs are deleted after this (default 14 days). */
  retentionMs?: number;
  onError?: (err: unknown, context: string) => void;
}

export interface EnqueueOptions {
  delayMs?: number;
  maxAttempts?: number;
  deadlineMs?: number | null;
  /**
   * The caller's transaction: the job exists exactly when the caller's own rows do (no row left
   * without its job by a crash in between). Call wake() after the commit to run it at once.
   */
  db?: Queryable;
}

/** A pool counts as live while its heartbeat is younger than this. */
const POOL_STALE_MS = 60_000;
const POOL_HEARTBEAT_MS = 10_000;
const PURGE_EVERY_MS = 10 * 60_000;

export class JobService {
  /** This instance's id: the owner of its leases and the id of its worker pool. */
  readonly poolId = randomUUID();
  private readonly types = new Map<string, ResolvedJobType>();
  private readonly db: Database;
  private readonly options: JobServiceOptions;
  private readonly logs: JobLogWriter;
  private readonly pool: WorkerPool;
  private timers: NodeJS.Timeout[] = [];
  private polling: Promise<void> | null = null;
  private checking: Promise<void> | null = null;
  private started = false;
  private stopping: Promise<void> | null = null;
  private lastPurge = 0;

  constructor(options: JobServiceOptions) {
    this.options = options;
    this.db = options.db;
    const onError = options.onError ?? (() => undefined);
    this.logs = new JobLogWriter(this.db, (err) => onError(err, 'writing job logs'));
    this.pool = new WorkerPool(this.db, this.poolId, this.logs, onError, options.instanceName);
  }

  /** Registers the handler of a job type (before start). Handlers must be idempotent. */
  register(type: string, handler: JobHandler, options: JobTypeOptions = {}): void {
    if (this.types.has(type)) throw new Error(`job type ${type} is registered twice`);
    this.types.set(type, resolveJobType(type, handler, options, this.options.maxJobWorkers));
  }

  registeredTypes(): string[] {
    return [...this.types.keys()].sort();
  }

  /** Adds a job; any instance that knows the type may run it. */
  async enqueue(type: string, payload: unknown, options: EnqueueOptions = {}): Promise<JobRow> {
    const t = this.requireType(type);
    const row = await insertJob(options.db ?? this.db, {
      type,
      payload,
      maxAttempts: options.maxAttempts ?? t.maxAttempts,
      deadlineMs: options.deadlineMs === undefined ? t.deadlineMs : options.deadlineMs,
      delayMs: options.delayMs ?? 0,
    });
    // Inside a transaction the row is not visible yet: the caller wakes the pool after its commit.
    if (!options.db && (options.delayMs ?? 0) <= 0) this.wake();
    return row;
  }

  /** Appends a line to a job's log from outside its handler (the job may have ended). */
  note(jobId: number, line: string): void {
    this.logs.append(jobId, line);
  }

  /** Looks for due jobs now instead of at the next poll (after enqueueing inside a transaction). */
  wake(): void {
    if (this.started && !this.stopping) this.poll();
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.heartbeat();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.options.pollMs ?? 1_000, () => this.poll());
    every(this.options.stopCheckMs ?? 500, () => this.check());
    every(POOL_HEARTBEAT_MS, () => void this.heartbeat().catch((err) => this.error(err, 'pool heartbeat')));
    this.poll();
  }

  /**
   * Graceful stop: claims nothing more, lets running jobs finish within `graceMs`, then aborts
   * them and releases their leases (another instance takes them at once), flushes logs.
   */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      this.timers = [];
      await this.polling;
      await this.checking;
      // Stop requests must still reach running handlers while they finish.
      const checker = setInterval(() => this.check(), this.options.stopCheckMs ?? 500);
      try {
        const settleMs = Math.min(2_000, graceMs / 4);
        if (!(await this.pool.idle(Math.max(0, graceMs - settleMs)))) {
          await this.pool.abortAndRelease(settleMs);
        }
      } finally {
        clearInterval(checker);
      }
      await this.logs.close();
      if (this.started) await deletePool(this.db, this.poolId).catch((err) => this.error(err, 'pool row'));
    })();
    return this.stopping;
  }

  // --- operations behind the API ---

  async job(id: number): Promise<JobRow | undefined> {
    return findJob(this.db, id);
  }

  /** The job's log as text; undefined when there is no such job. */
  async log(id: number): Promise<string | undefined> {
    await this.logs.flush();
    if (!(await findJob(this.db, id))) return undefined;
    return jobLogText(this.db, id);
  }

  /** Asks a job to stop wherever it runs. Undefined when there is no such job. */
  async requestStop(id: number): Promise<JobStatus | undefined> {
    const status = await requestStop(this.db, id);
    // Running here: no need to wait for the next check.
    if (status === 'running') this.pool.stopLocal(id);
    return status;
  }

  /** Harbor's queue actions; type 'all' stands for every type. */
  async queueAction(type: string, action: 'stop' | 'pause' | 'resume'): Promise<void> {
    const all = type === 'all';
    if (action === 'stop') await stopPendingJobs(this.db, all ? null : type);
    else if (action === 'pause') await setQueuePaused(this.db, type, true);
    else if (all) await resumeAllQueues(this.db);
    else await setQueuePaused(this.db, type, false);
  }

  /** Job queues: every type an instance runs (also with no job), or with pending jobs. */
  async queues(): Promise<QueueRow[]> {
    const rows = await listQueues(this.db, POOL_STALE_MS);
    const allPaused = rows.find((r) => r.type === 'all')?.paused ?? false;
    const byType = new Map(rows.filter((r) => r.type !== 'all').map((r) => [r.type, r]));
    for (const type of this.types.keys()) {
      if (!byType.has(type)) byType.set(type, { type, count: 0, latency_seconds: 0, paused: false });
    }
    return [...byType.values()]
      .map((r) => ({ ...r, paused: r.paused || allPaused }))
      .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  }

  async isQueuePaused(type: string): Promise<boolean> {
    const rows = await listQueues(this.db, POOL_STALE_MS);
    return rows.some((r) => (r.type === type || r.type === 'all') && r.paused);
  }

  async pools(): Promise<PoolRow[]> {
    return listLivePools(this.db, POOL_STALE_MS);
  }

  /** The running jobs of a pool; undefined when there is no such pool. */
  async workers(poolId: string): Promise<JobRow[] | undefined> {
    if (!(await findPool(this.db, poolId))) return undefined;
    return listRunningJobsOf(this.db, poolId);
  }

  // --- schedules ---

  async saveSchedule(s: { type: string; vendorId?: number; cron: string; payload?: unknown }) {
    this.requireType(s.type);
    return saveSchedule(this.db, s);
  }

  async removeSchedule(type: string, vendorId = 0): Promise<boolean> {
    return deleteSchedule(this.db, type, vendorId);
  }

  async pauseSchedule(type: string, vendorId: number, paused: boolean): Promise<boolean> {
    return setSchedulePaused(this.db, type, vendorId, paused);
  }

  async schedule(type: string, vendorId = 0): Promise<ScheduleRow | undefined> {
    return findSchedule(this.db, type, vendorId);
  }

  async listSchedules(offset: number, limit: number) {
    return listSchedules(this.db, offset, limit);
  }

  // --- the loops ---

  private poll(): void {
    if (this.polling || this.stopping) return;
    this.polling = this.pollOnce()
      .catch((err) => this.error(err, 'polling for jobs'))
      .finally(() => {
        this.polling = null;
      });
  }

  private async pollOnce(): Promise<void> {
    for (const r of await reclaimExpired(this.db, 100)) {
      // Named as the instance calls itself (its pool row, while its heartbeat is recent).
      const owner = r.previous_owner ? await findPool(this.db, r.previous_owner) : undefined;
      this.logs.append(
        r.id,
        `the lease of ${owner?.host ?? r.previous_owner ?? '?'} expired; ${r.status === 'pending' ? 'to be run again' : r.status}`,
      );
    }
    const rules = new Map<string, ScheduleJobRules>(
      [...this.types.values()].map((t) => [t.type, { maxAttempts: t.maxAttempts, deadlineMs: t.deadlineMs }]),
    );
    await fireDueSchedules(this.db, rules);
    for (const type of this.types.values()) {
      const free = type.concurrency - this.pool.countOf(type.type);
      if (free <= 0 || this.stopping) continue;
      const claimed = await claimJobs(this.db, type.type, this.poolId, type.leaseMs, free);
      for (const row of claimed) this.pool.start(row, type);
    }
    if (Date.now() - this.lastPurge > PURGE_EVERY_MS) {
      this.lastPurge = Date.now();
      await purgeFinishedJobs(this.db, this.options.retentionMs ?? 14 * 86_400_000, 1_000);
    }
  }

  private check(): void {
    if (this.checking) return;
    this.checking = this.pool
      .check()
      .catch((err) => this.error(err, 'checking running jobs'))
      .finally(() => {
        this.checking = null;
      });
  }

  private async heartbeat(): Promise<void> {
    await upsertPool(this.db, {
      id: this.poolId,
      host: this.options.instanceName,
      pid: process.pid,
      concurrency: this.options.maxJobWorkers,
      types: this.registeredTypes(),
    });
  }

  private requireType(type: string): ResolvedJobType {
    const t = this.types.get(type);
    if (!t) throw new Error(`unknown job type ${type}`);
    return t;
  }

  private error(err: unknown, context: string): void {
    this.options.onError?.(err, context);
  }
}
