import type { Database } from '../metadata/database.js';
import {
  failJob,
  finishJob,
  markStopped,
  releaseJob,
  renewLeases,
  type Claim,
  type JobRow,
} from '../metadata/jobs-table.js';
import { attemptStartedLine, type JobLogWriter } from './job-log.js';
import { backoffMs, errorText, FinalJobFailure, type ResolvedJobType } from './queue.js';

// The jobs this instance is running: their handlers, abort controllers and leases. It renews
// leases (a third of the lease), looks for stop requests made on any instance (every check, so
// a stop reaches the handler within about a second), aborts handlers whose lease was lost, and
// records each outcome under the claim's fence (jobs-table.ts).

type AbortReason = 'stop' | 'shutdown' | 'lost';

interface Running {
  claim: Claim;
  type: ResolvedJobType;
  controller: AbortController;
  reason: AbortReason | null;
  renewedAt: number;
  done: Promise<void>;
}

export class WorkerPool {
  private readonly running = new Map<number, Running>();
  // Plain fields, no parameter properties: test harnesses run these sources with type stripping.
  private readonly db: Database;
  private readonly owner: string;
  /** How logs name this instance (cluster.instance_name): the owner is a pool id nobody knows. */
  private readonly instanceName: string;
  private readonly logs: JobLogWriter;
  private readonly onError: (err: unknown, context: string) => void;

  constructor(
    db: Database,
    owner: string,
    logs: JobLogWriter,
    onError: (err: unknown, context: string) => void,
    instanceName: string = owner,
  ) {
    this.db = db;
    this.owner = owner;
    this.instanceName = instanceName;
    this.logs = logs;
    this.onError = onError;
  }

  countOf(type: string): number {
    let n = 0;
    for (const r of this.running.values()) if (r.type.type === type) n++;
    return n;
  }

  get size(): number {
    return this.running.size;
  }

  runningJobIds(): number[] {
    return [...this.running.keys()];
  }

  /** Runs a job this instance has just claimed. */
  start(row: JobRow, type: ResolvedJobType): void {
    const claim: Claim = { id: row.id, owner: this.owner, attempt: row.attempts };
    const controller = new AbortController();
    const entry: Running = {
      claim,
      type,
      controller,
      reason: null,
      renewedAt: Date.now(),
      done: Promise.resolve(),
    };
    this.running.set(row.id, entry);
    this.logs.append(row.id, attemptStartedLine(row.attempts, row.max_attempts, this.instanceName));
    entry.done = this.run(entry, row).finally(() => this.running.delete(row.id));
  }

  private async run(entry: Running, row: JobRow): Promise<void> {
    const { claim, type } = entry;
    let failure: unknown = null;
    let ok = false;
    let outcome: string | void = undefined;
    try {
      outcome = await type.handler({
        id: row.id,
        type: row.type,
        payload: row.payload,
        attempt: row.attempts,
        signal: entry.controller.signal,
        log: (line) => this.logs.append(row.id, line),
      });
      ok = true;
    } catch (err) {
      failure = err;
    }
    try {
      // The handler's lines are stored before the outcome: a finished job has its whole log.
      await this.logs.flush();
      await this.settle(entry, ok, failure, outcome);
      await this.logs.flush();
    } catch (err) {
      // The database is away: the lease expires and another instance runs the job again.
      this.onError(err, `recording the outcome of job ${claim.id}`);
    }
  }

  private async settle(entry: Running, ok: boolean, failure: unknown, outcome: string | void): Promise<void> {
    const { claim, type } = entry;
    const log = (line: string) => this.logs.append(claim.id, line);
    if (entry.reason === 'lost') {
      log(`attempt ${claim.attempt} abandoned: ${this.instanceName} lost the lease`);
      return;
    }
    if (ok) {
      if (await finishJob(this.db, claim)) log(outcome || 'succeeded');
      return;
    }
    if (entry.reason === 'stop') {
      if (await markStopped(this.db, claim)) log('stopped on request');
      return;
    }
    if (entry.reason === 'shutdown') {
      if (await releaseJob(this.db, claim)) log(`released at the shutdown of ${this.instanceName}`);
      return;
    }
    const message = errorText(failure);
    const final = failure instanceof FinalJobFailure;
    const delay = final ? 0 : backoffMs(claim.attempt, type);
    const status = await failJob(this.db, claim, message, delay, final);
    if (status === 'pending')
      log(`attempt ${claim.attempt} failed: ${message}; retry in ${(delay / 1000).toFixed(1)} s`);
    else if (final && status === 'error') log(`failed: ${message}`);
    else if (status === 'stopped') log(`failed: ${message}; stopped on request`);
    else if (status === 'error') log(`failed: ${message}; no retry left`);
  }

  /**
   * One check: every running job's stop flag (read only), and a renewal of the leases due for
   * it. Aborts handlers asked to stop and handlers whose claim is no longer current.
   */
  async check(): Promise<void> {
    if (this.running.size === 0) return;
    const now = Date.now();
    const due = new Map<number, Running[]>();
    const rest: Running[] = [];
    for (const r of this.running.values()) {
      if (r.reason !== null) continue;
      if (now - r.renewedAt >= r.type.leaseMs / 3) {
        const group = due.get(r.type.leaseMs) ?? [];
        group.push(r);
        due.set(r.type.leaseMs, group);
      } else {
        rest.push(r);
      }
    }
    const batches: Array<{ entries: Running[]; leaseMs: number | null }> = [
      ...[...due].map(([leaseMs, entries]) => ({ entries, leaseMs })),
      ...(rest.length > 0 ? [{ entries: rest, leaseMs: null }] : []),
    ];
    for (const { entries, leaseMs } of batches) {
      const answer = await renewLeases(
        this.db,
        this.owner,
        entries.map((e) => e.claim),
        leaseMs,
      );
      const held = new Map(answer.map((a) => [Number(a.id), a.stop_requested]));
      for (const e of entries) {
        const stop = held.get(e.claim.id);
        if (stop === undefined) this.abort(e, 'lost');
        else if (stop) this.abort(e, 'stop');
        else if (leaseMs !== null) e.renewedAt = now;
      }
    }
  }

  /** Aborts a job running here at once (a stop requested through this instance). */
  stopLocal(id: number): void {
    const entry = this.running.get(id);
    if (entry) this.abort(entry, 'stop');
  }

  private abort(entry: Running, reason: AbortReason): void {
    if (entry.reason !== null) return;
    entry.reason = reason;
    entry.controller.abort(new Error(`job ${reason === 'stop' ? 'stopped' : reason}`));
  }

  /** Resolves when no job runs here, or after `ms`; true when idle. */
  async idle(ms: number): Promise<boolean> {
    const all = Promise.all([...this.running.values()].map((r) => r.done)).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Shutdown: aborts every handler, waits briefly for them to settle (each releases its job),
   * then releases the claims of handlers that ignore their signal, so that another instance
   * takes the jobs at once instead of after the lease.
   */
  async abortAndRelease(settleMs: number): Promise<void> {
    for (const r of this.running.values()) this.abort(r, 'shutdown');
    if (await this.idle(settleMs)) return;
    for (const r of this.running.values()) {
      try {
        if (await releaseJob(this.db, r.claim)) {
          this.logs.append(
            r.claim.id,
            `released at the shutdown of ${this.instanceName} (handler still running)`,
          );
        }
      } catch (err) {
        this.onError(err, `releasing job ${r.claim.id}`);
      }
    }
  }
}
