import { RETRY_UNTIL_DEADLINE, type JobTypeDefinition } from '../../jobs/queue.js';
import {
  findExecution,
  findTask,
  listExecutions,
  listTasks,
  taskCounts,
  type ExecutionFilter,
  type ExecutionRow,
  type TaskCounts,
  type TaskRow,
  type TaskStatus,
} from '../../metadata/replication-executions-table.js';
import {
  listTombstones,
  purgeTombstones,
  putTombstone,
  recordTagOrigin,
} from '../../metadata/tombstones-table.js';
import type { EventConsumer } from '../../services/events/consumer.js';
import type { Principal } from '../../services/principal.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import { ServiceError } from '../../services/service-error.js';
import { replicationEventConsumer } from './event-consumer.js';
import { endExecutionNow } from './finished-event.js';
import { runEventJob } from './events.js';
import { runExecutionJob } from './planner.js';
import { syncPolicySchedule } from './policy-hooks.js';
import { Reconciler } from './reconciler.js';
import { tombstoneTtlOf } from './sides.js';
import { runSweepJob, SWEEP_CRON, SWEEP_JOB } from './sweeper.js';
import { runTaskJob } from './task-runner.js';
import {
  EVENT_JOB,
  EXECUTION_DEFAULTS,
  EXECUTION_JOB,
  TASK_JOB,
  type ExecutionDeps,
  type ExecutionOptions,
  type Tombstone,
} from './types.js';

// Replication executions (Harbor's /replication/executions): the job types that run them, the
// operations behind the API (system administrators only), and the wiring to policies: a policy
// with a running execution cannot be deleted; a scheduled trigger is a job-service schedule of
// the policy (none while the policy is disabled). A sweeper (sweeper.ts) closes what a job left open.

export interface ExecutionView {
  execution: ExecutionRow;
  counts: TaskCounts;
}

export class ReplicationExecutionService {
  readonly #deps: ExecutionDeps;
  readonly #reconciler: Reconciler;
  readonly #deadlineMs: number;
  readonly #options: ExecutionOptions;

  constructor(deps: ExecutionDeps, options: ExecutionOptions = {}) {
    this.#deps = deps;
    this.#options = options;
    this.#reconciler = new Reconciler(deps);
    this.#deadlineMs = options.deadlineMs ?? EXECUTION_DEFAULTS.deadlineMs;
  }

  /** The job types that run replication; the composition root registers them on the job service. */
  jobTypes(): JobTypeDefinition[] {
    const deps = this.#deps;
    const backoffBaseMs = this.#options.backoffBaseMs ?? EXECUTION_DEFAULTS.backoffBaseMs;
    const backoffMaxMs = this.#options.backoffMaxMs ?? EXECUTION_DEFAULTS.backoffMaxMs;
    const retrying = {
      // The deadline, not a count, ends retries.
      maxAttempts: RETRY_UNTIL_DEADLINE,
      backoffBaseMs,
      backoffMaxMs,
      // The handlers end retries at the policy's deadline themselves (marking the task or the
      // execution failed); the job's own deadline is a backstop one backoff later.
      deadlineMs: this.#deadlineMs + 2 * backoffMaxMs,
    };
    const taskConcurrency = this.#options.taskConcurrency;
    return [
      {
        type: EXECUTION_JOB,
        handler: (job) => runExecutionJob(deps, this.#reconciler, this.#deadlineMs, job),
        options: retrying,
      },
      {
        type: TASK_JOB,
        handler: (job) => runTaskJob(deps, this.#reconciler, job),
        options: { ...retrying, ...(taskConcurrency !== undefined && { concurrency: taskConcurrency }) },
      },
      {
        type: EVENT_JOB,
        handler: (job) => runEventJob(deps, this.#reconciler, job),
        options: { maxAttempts: 100, backoffBaseMs, backoffMaxMs },
      },
      // One attempt: the next minute's run is the retry.
      {
        type: SWEEP_JOB,
        handler: (job) => runSweepJob(deps, this.#reconciler, job),
        options: { maxAttempts: 1 },
      },
    ];
  }

  /** Brings schedules in line with the policies (at start: a change may have been missed). */
  async syncSchedules(): Promise<void> {
    const { jobs } = this.#deps;
    if ((await jobs.schedule(SWEEP_JOB, 0))?.cron !== SWEEP_CRON) {
      await jobs.saveSchedule({ type: SWEEP_JOB, cron: SWEEP_CRON });
    }
    for (const policy of await this.#deps.policies.all()) await this.#syncSchedule(policy.id, policy);
  }

  /**
   * Event-based triggers as an outbox consumer (event-consumer.ts): the composition root adds it
   * to the event dispatcher's consumers.
   */
  eventConsumer(): EventConsumer {
    return replicationEventConsumer(this.#deps);
  }

  // --- the API's operations ---

  /** Sysadmins only: 401 for anonymous callers, 403 for others (before ids and bodies are read). */
  requireAdmin(principal: Principal): void {
    this.#deps.policies.requireAdmin(principal);
  }

  async start(principal: Principal, policyId: number): Promise<number> {
    this.#deps.policies.requireAdmin(principal);
    const policy = await this.#deps.policies.byId(policyId);
    if (!policy) throw new ServiceError('not-found', `replication policy ${policyId} not found`);
    if (!policy.enabled) throw new ServiceError('precondition', `replication policy ${policyId} is disabled`);
    const id = await this.#reconciler.start(policyId, 'manual');
    if (id === null) throw new Error('the execution was not created');
    return id;
  }

  async list(
    principal: Principal,
    filter: ExecutionFilter,
    offset: number,
    limit: number,
  ): Promise<{ items: ExecutionView[]; total: number }> {
    this.#deps.policies.requireAdmin(principal);
    const { items, total } = await listExecutions(this.#deps.db, filter, offset, limit);
    const counts = await taskCounts(
      this.#deps.db,
      items.map((e) => e.id),
    );
    return {
      items: items.map((execution) => ({ execution, counts: countsOf(counts, execution.id) })),
      total,
    };
  }

  async get(principal: Principal, id: number): Promise<ExecutionView> {
    this.#deps.policies.requireAdmin(principal);
    const execution = await this.#execution(id);
    return { execution, counts: countsOf(await taskCounts(this.#deps.db, [id]), id) };
  }

  /** Stops an execution: its open tasks are Stopped and their jobs interrupted wherever they run. */
  async stop(principal: Principal, id: number): Promise<void> {
    this.#deps.policies.requireAdmin(principal);
    const execution = await this.#execution(id);
    if (execution.status !== 'InProgress') return;
    const policy = await this.#deps.policies.byId(execution.policy_id);
    const jobIds = await endExecutionNow(this.#deps.db, id, {
      status: 'Stopped',
      text: 'stopped on request',
      policy,
    });
    if (execution.job_id !== null) jobIds.push(execution.job_id);
    for (const jobId of jobIds) await this.#deps.jobs.requestStop(jobId);
  }

  async tasks(
    principal: Principal,
    id: number,
    status: TaskStatus | undefined,
    offset: number,
    limit: number,
  ): Promise<{ items: TaskRow[]; total: number }> {
    this.#deps.policies.requireAdmin(principal);
    await this.#execution(id);
    return listTasks(this.#deps.db, id, status, offset, limit);
  }

  async taskLog(principal: Principal, id: number, taskId: number): Promise<string> {
    this.#deps.policies.requireAdmin(principal);
    await this.#execution(id);
    const task = await findTask(this.#deps.db, taskId);
    if (!task || task.execution_id !== id) {
      throw new ServiceError('not-found', `task ${taskId} of execution ${id} not found`);
    }
    if (task.job_id === null) return '';
    return (await this.#deps.jobs.log(task.job_id)) ?? '';
  }

  // --- Wharf extensions for two-way peers (system administrators only) ---

  /** The unexpired tombstones of a repository (purging expired ones on the way). */
  async tombstones(principal: Principal, repository: string, tag?: string): Promise<Tombstone[]> {
    this.#deps.policies.requireAdmin(principal);
    const since = new Date(Date.now() - tombstoneTtlOf(this.#deps));
    await purgeTombstones(this.#deps.db, since);
    const rows = await listTombstones(this.#deps.db, repository, since, tag);
    return rows.map((r) => ({
      repository: r.repository,
      tag: r.tag,
      digest: r.digest,
      deletedAt: r.deleted_at,
    }));
  }

  /** A deletion a peer's replication made here, with the peer's deletion time. */
  async recordTombstone(principal: Principal, t: Tombstone): Promise<boolean> {
    this.#deps.policies.requireAdmin(principal);
    return putTombstone(this.#deps.db, {
      repository: t.repository,
      tag: t.tag,
      digest: t.digest,
      deleted_at: t.deletedAt,
    });
  }

  /** The origin push time of a tag a peer's replication copied here. */
  async recordTagOrigin(
    principal: Principal,
    o: { repository: string; tag: string; digest: string; pushTime: Date; origin: string },
  ): Promise<boolean> {
    this.#deps.policies.requireAdmin(principal);
    return recordTagOrigin(this.#deps.db, o);
  }

  // --- internals ---

  async #execution(id: number): Promise<ExecutionRow> {
    const row = await findExecution(this.#deps.db, id);
    if (!row) throw new ServiceError('not-found', `replication execution ${id} not found`);
    return row;
  }

  async #syncSchedule(policyId: number, policy: ReplicationPolicy | null): Promise<void> {
    await syncPolicySchedule(this.#deps.jobs, policyId, policy);
  }
}

function countsOf(map: Map<number, TaskCounts>, id: number): TaskCounts {
  return map.get(id) ?? { total: 0, failed: 0, succeed: 0, in_progress: 0, stopped: 0 };
}
