import type { Database } from '../../metadata/database.js';
import type { JobService } from '../../jobs/job-service.js';
import type { JobContext, JobTypeDefinition } from '../../jobs/queue.js';
import { cleanLine } from '../../jobs/job-log.js';
import { cronError } from '../../jobs/schedules.js';
import {
  claimScheduleForConfig,
  findRun,
  findScheduleType,
  hasActiveJob,
  insertRun,
  listRuns,
  lockKind,
  pruneRuns,
  saveRunLog,
  saveScheduleType,
  syncRuns,
  type MaintenanceRunRow,
  type RunFilter,
  type RunSort,
  type RunTrigger,
  type ScheduleType,
} from '../../metadata/maintenance-table.js';
import { ServiceError } from '../service-error.js';

export type { RunSort, RunSortColumn, RunTrigger, ScheduleType } from '../../metadata/maintenance-table.js';
export { RUN_SORT_COLUMNS } from '../../metadata/maintenance-table.js';

// A system maintenance job as Harbor's API shows it (/system/gc, /system/purgeaudit): runs with a
// history, a log, a stop, a manual trigger refused while a run is pending or running, and one cron
// schedule. One implementation over the durable job service; each kind (garbage collection,
// audit purge) is a registration with its job type and its parameters. See docs/lifecycle.md.

export interface MaintenanceKind {
  /** The job type, also Harbor's job_name of its runs. */
  type: string;
  /** What one run is called in messages ("garbage collection"). */
  noun: string;
  /** Checks and normalises the API's parameters into the job's payload; throws ServiceError('invalid'). */
  parameters(raw: Record<string, unknown>): Record<string, unknown>;
  /** Why a run cannot start now although no job of the kind is active (work begun elsewhere). */
  busy?(db: Database): Promise<string | undefined>;
}

/** Harbor's execution statuses, as its history shows them. */
export type HarborJobStatus = 'Pending' | 'Running' | 'Stopped' | 'Error' | 'Success';

const HARBOR_STATUS: Record<string, HarborJobStatus> = {
  pending: 'Pending',
  running: 'Running',
  succeeded: 'Success',
  error: 'Error',
  stopped: 'Stopped',
};
const JOB_STATUS = Object.fromEntries(Object.entries(HARBOR_STATUS).map(([k, v]) => [v, k])) as Record<
  HarborJobStatus,
  string
>;

export function isHarborJobStatus(s: string): s is HarborJobStatus {
  return s in JOB_STATUS;
}

export interface MaintenanceRun {
  id: number;
  trigger: RunTrigger;
  parameters: unknown;
  status: HarborJobStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface HistoryFilter extends Omit<RunFilter, 'statuses'> {
  status?: HarborJobStatus;
}

export type SetScheduleType = Exclude<ScheduleType, 'None'>;

export interface MaintenanceSchedule {
  id: number;
  type: SetScheduleType;
  cron: string;
  nextRun: Date;
  parameters: unknown;
  createdAt: Date;
  updatedAt: Date;
}

export class MaintenanceJobs {
  constructor(
    private readonly db: Database,
    private readonly jobs: JobService,
    readonly kind: MaintenanceKind,
  ) {}

  /** A page of runs, with the number the filter matches. */
  async history(
    filter: HistoryFilter,
    sort: RunSort,
    offset: number,
    limit: number,
  ): Promise<{ items: MaintenanceRun[]; total: number }> {
    await syncRuns(this.db, this.kind.type);
    const { status, ...rest } = filter;
    const runFilter: RunFilter = { ...rest, ...(status && { statuses: [JOB_STATUS[status]] }) };
    const page = await listRuns(this.db, this.kind.type, runFilter, sort, offset, limit);
    return { items: page.items.map(runOf), total: page.total };
  }

  /** One run; undefined when `id` is no run of this kind. */
  async run(id: number): Promise<MaintenanceRun | undefined> {
    await syncRuns(this.db, this.kind.type);
    const row = await findRun(this.db, this.kind.type, id);
    return row && runOf(row);
  }

  /** The run's log: the job service's while it keeps the job, else the copy kept when it ended. */
  async log(id: number): Promise<string> {
    const row = await this.requireRun(id);
    return (await this.jobs.log(id)) ?? row.log ?? '';
  }

  /** Asks the run to stop wherever it runs (a pending run never starts). */
  async stop(id: number): Promise<void> {
    await this.requireRun(id);
    await this.jobs.requestStop(id);
  }

  /** Starts a run now; a conflict while another run of this kind is pending or running. */
  async runNow(raw: Record<string, unknown>): Promise<MaintenanceRun> {
    const parameters = this.kind.parameters(raw);
    const busy = await this.kind.busy?.(this.db);
    if (busy) throw new ServiceError('conflict', busy);
    const jobId = await this.db.transaction(async (tx) => {
      await lockKind(tx, this.kind.type);
      if (await hasActiveJob(tx, this.kind.type)) {
        throw new ServiceError('conflict', `a ${this.kind.noun} is already pending or running`);
      }
      const job = await this.jobs.enqueue(this.kind.type, parameters, { db: tx });
      const id = Number(job.id);
      await insertRun(tx, {
        jobId: id,
        kind: this.kind.type,
        trigger: 'MANUAL',
        parameters,
        status: job.status,
      });
      return id;
    });
    this.jobs.wake();
    const run = await this.run(jobId);
    if (!run) throw new Error(`run ${jobId} vanished after it was enqueued`);
    return run;
  }

  /** The cron schedule; undefined when there is none. */
  async schedule(): Promise<MaintenanceSchedule | undefined> {
    const row = await this.jobs.schedule(this.kind.type);
    if (!row) return undefined;
    const typed = await findScheduleType(this.db, this.kind.type);
    const type = typed && typed.schedule_type !== 'None' ? typed.schedule_type : 'Custom';
    return {
      id: Number(row.id),
      type,
      cron: row.cron,
      nextRun: row.next_run,
      parameters: row.payload,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Sets (or replaces) the schedule through the API: it wins over the configuration's from now on. */
  async setSchedule(type: SetScheduleType, cron: string, raw: Record<string, unknown>): Promise<void> {
    const parameters = this.kind.parameters(raw);
    checkCron(cron);
    await saveScheduleType(this.db, this.kind.type, type, false);
    await this.jobs.saveSchedule({ type: this.kind.type, cron, payload: parameters });
  }

  /** Removes the schedule (Harbor's type None); the configuration does not bring it back. */
  async removeSchedule(): Promise<void> {
    await saveScheduleType(this.db, this.kind.type, 'None', false);
    await this.jobs.removeSchedule(this.kind.type);
  }

  /**
   * The schedule the configuration file asks for (null: none), applied unless the API has set or
   * removed the schedule since: so a changed configuration takes effect at the next start.
   */
  async applyConfigSchedule(
    spec: { type: SetScheduleType; cron: string; parameters: Record<string, unknown> } | null,
  ): Promise<void> {
    const parameters = spec && this.kind.parameters(spec.parameters);
    if (spec) checkCron(spec.cron);
    const applies = await this.db.transaction((tx) =>
      claimScheduleForConfig(tx, this.kind.type, spec?.type ?? 'None'),
    );
    if (!applies) return;
    if (spec) await this.jobs.saveSchedule({ type: this.kind.type, cron: spec.cron, payload: parameters });
    else await this.jobs.removeSchedule(this.kind.type);
  }

  /**
   * The kind's job type with its handler wrapped to keep the run's log in the history when the
   * run ends: the job service deletes its own copy with the job, after its retention.
   */
  jobType(definition: JobTypeDefinition): JobTypeDefinition {
    if (definition.type !== this.kind.type) {
      throw new Error(`job type ${definition.type} is not ${this.kind.type}`);
    }
    return { ...definition, handler: (job) => this.runKeepingLog(definition, job) };
  }

  private async runKeepingLog(definition: JobTypeDefinition, job: JobContext): Promise<void | string> {
    const stamp = (line: string) => `${new Date().toISOString()} ${cleanLine(line)}\n`;
    const lines: string[] = [stamp(`attempt ${job.attempt}`)];
    let dropped = 0;
    let status = 'error';
    let outcomeLine = 'ended';
    try {
      const outcome = await definition.handler({
        ...job,
        log: (line) => {
          // Progress beyond the cap is counted; the outcome line below is always kept.
          if (lines.length < KEPT_LOG_LINES) lines.push(stamp(line));
          else dropped++;
          job.log(line);
        },
      });
      status = 'succeeded';
      outcomeLine = typeof outcome === 'string' ? outcome : 'succeeded';
      return outcome;
    } catch (err) {
      status = job.signal.aborted ? 'stopped' : 'error';
      const reason = err instanceof Error ? err.message : String(err);
      outcomeLine = `${status === 'stopped' ? 'stopped' : 'failed'}: ${reason}`;
      throw err;
    } finally {
      if (dropped > 0) lines.push(stamp(`(${dropped} more lines not kept here)`));
      lines.push(stamp(outcomeLine));
      // Losing this copy loses nothing the job service does not still hold; never fail the run for it.
      await saveRunLog(this.db, job.id, status, lines.join('')).catch(() => undefined);
      await pruneRuns(this.db, this.kind.type, KEPT_RUNS).catch(() => undefined);
    }
  }

  private async requireRun(id: number): Promise<MaintenanceRunRow> {
    await syncRuns(this.db, this.kind.type);
    const row = await findRun(this.db, this.kind.type, id);
    if (!row) throw new ServiceError('not-found', `${this.kind.noun} ${id} not found`);
    return row;
  }
}

/** Runs of a kind kept in the history once the job service has let go of their jobs. */
const KEPT_RUNS = 1_000;

/** Lines of a run's log kept in its history (the job service's own copy keeps up to 50,000). */
const KEPT_LOG_LINES = 5_000;

/** Harbor's cron: six fields, seconds first. */
function checkCron(cron: string): void {
  const fields = cron.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 6) {
    throw new ServiceError(
      'invalid',
      `cron "${cron}" must have 6 fields (seconds minutes hours day month weekday)`,
    );
  }
  const problem = cronError(cron);
  if (problem !== null) throw new ServiceError('invalid', `invalid cron "${cron}": ${problem}`);
}

function runOf(row: MaintenanceRunRow): MaintenanceRun {
  return {
    id: row.job_id,
    trigger: row.trigger,
    parameters: row.parameters,
    status: HARBOR_STATUS[row.status] ?? 'Error',
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
