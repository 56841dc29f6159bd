import { repositoryWithinProject } from '../../domain/tag-selectors.js';
import { ruleAppliesTo } from '../../domain/retention-rules.js';
import type { JobService } from '../../jobs/job-service.js';
import { FinalJobFailure, type JobContext, type JobTypeDefinition } from '../../jobs/queue.js';
import type { Database, Queryable } from '../../metadata/database.js';
import { projectRepositoryNames } from '../../metadata/retention-candidates.js';
import {
  findRetentionExecution,
  findRetentionTask,
  finishRetentionTask,
  insertRetentionExecution,
  insertRetentionTask,
  listRetentionExecutions,
  listRetentionTasks,
  openRetentionTasks,
  setRetentionTaskJob,
  type RetentionExecutionRow,
  type RetentionTaskRow,
  type RetentionTrigger,
} from '../../metadata/retention-executions-table.js';
import type { ArtifactService } from '../artifacts/artifact-service.js';
import type { Principal } from '../principal.js';
import { ServiceError } from '../service-error.js';
import { endExecutionIfDone } from './execution-end.js';
import { SCHEDULE_JOB, type LoadedPolicy, type RetentionPolicyService } from './policy-service.js';
import { failRetentionTask, runRetentionTask, type RetentionTaskPayload } from './task-runner.js';

// Retention executions (Harbor's /retentions/{id}/executions): a run of a policy, manual or
// scheduled, maybe dry. Starting one creates, in one transaction, the execution, one task per
// repository some enabled rule applies to, and one retention.task job per task; a run with no
// such repository ends at once (Success). Stop ends every open task (Stopped) and asks their jobs
// to stop: a running task aborts before its next deletion. Trigger and stop need tag-retention
// update, listing needs list and a task's log read, as Harbor's handler checks them.

export const TASK_JOB = 'retention.task';
const TASK_ATTEMPTS = 3;

export interface RetentionExecutionDeps {
  db: Database;
  jobs: JobService;
  policies: RetentionPolicyService;
  artifacts: ArtifactService;
}

export class RetentionExecutionService {
  constructor(private readonly deps: RetentionExecutionDeps) {}

  /** The job types retention runs: the scheduled trigger and the per-repository task. */
  jobTypes(): JobTypeDefinition[] {
    return [
      {
        type: SCHEDULE_JOB,
        handler: (job) => this.runSchedule(job),
        options: { maxAttempts: TASK_ATTEMPTS },
      },
      { type: TASK_JOB, handler: (job) => this.runTask(job), options: { maxAttempts: TASK_ATTEMPTS } },
    ];
  }

  async trigger(principal: Principal, policyId: number, dryRun: boolean): Promise<number> {
    const policy = await this.deps.policies.load(principal, policyId, 'update');
    return (await this.launch(policy, 'MANUAL', dryRun)).id;
  }

  async list(principal: Principal, policyId: number, offset: number, limit: number) {
    await this.deps.policies.load(principal, policyId, 'list');
    return listRetentionExecutions(this.deps.db, policyId, offset, limit);
  }

  async stop(principal: Principal, policyId: number, executionId: number): Promise<void> {
    await this.deps.policies.load(principal, policyId, 'update');
    const execution = await this.execution(policyId, executionId);
    if (execution.status !== 'Running') return;
    for (const task of await openRetentionTasks(this.deps.db, executionId)) {
      if (task.job_id !== null) await this.deps.jobs.requestStop(task.job_id);
    }
    await this.deps.db.transaction(async (tx) => {
      for (const task of await openRetentionTasks(tx, executionId)) {
        await finishRetentionTask(tx, task.id, { status: 'Stopped' });
      }
      await endExecutionIfDone(tx, executionId);
    });
  }

  async tasks(principal: Principal, policyId: number, executionId: number, offset: number, limit: number) {
    await this.deps.policies.load(principal, policyId, 'list');
    await this.execution(policyId, executionId);
    return listRetentionTasks(this.deps.db, executionId, offset, limit);
  }

  /** A task's log (its job's), text. */
  async taskLog(
    principal: Principal,
    policyId: number,
    executionId: number,
    taskId: number,
  ): Promise<string> {
    await this.deps.policies.load(principal, policyId, 'read');
    await this.execution(policyId, executionId);
    const task = await findRetentionTask(this.deps.db, taskId);
    if (!task || task.execution_id !== executionId)
      throw new ServiceError('not-found', `task ${taskId} not found`);
    const log = task.job_id === null ? undefined : await this.deps.jobs.log(task.job_id);
    return log ?? '';
  }

  private async execution(policyId: number, executionId: number): Promise<RetentionExecutionRow> {
    const execution = await findRetentionExecution(this.deps.db, executionId);
    if (!execution || execution.policy_id !== policyId) {
      throw new ServiceError(
        'not-found',
        `execution ${executionId} of retention policy ${policyId} not found`,
      );
    }
    return execution;
  }

  /**
   * Creates the execution, its tasks and their jobs in one transaction. `originJobId`: the
   * schedule's job, run again after a crash, finds the execution it made instead of a second one.
   */
  private async launch(
    policy: LoadedPolicy,
    trigger: RetentionTrigger,
    dryRun: boolean,
    originJobId?: number,
  ): Promise<RetentionExecutionRow> {
    const repositories = (await projectRepositoryNames(this.deps.db, policy.project.id)).filter((name) =>
      policy.rules.some((r) => ruleAppliesTo(r, repositoryWithinProject(name))),
    );
    const execution = await this.deps.db.transaction(async (tx) => {
      const { row, created } = await insertRetentionExecution(tx, {
        policyId: policy.row.id,
        trigger,
        dryRun,
        ...(originJobId !== undefined && { originJobId }),
      });
      if (!created) return row;
      for (const repository of repositories) await this.addTask(tx, row.id, repository);
      // Nothing to look at: the run is over (Harbor marks it done at once).
      return (await endExecutionIfDone(tx, row.id)) ?? row;
    });
    this.deps.jobs.wake();
    return execution;
  }

  private async addTask(tx: Queryable, executionId: number, repository: string): Promise<RetentionTaskRow> {
    const task = await insertRetentionTask(tx, executionId, repository);
    const payload: RetentionTaskPayload = { taskId: task.id };
    const job = await this.deps.jobs.enqueue(TASK_JOB, payload, { db: tx });
    await setRetentionTaskJob(tx, task.id, job.id);
    return task;
  }

  private async runSchedule(job: JobContext): Promise<string | void> {
    const { policyId } = job.payload as { policyId: number };
    const policy = await this.deps.policies.find(policyId);
    if (!policy) {
      // Its project was deleted (the policy went with it): the schedule has nothing left to run.
      await this.deps.jobs.removeSchedule(SCHEDULE_JOB, policyId);
      return `skipped: retention policy ${policyId} no longer exists; its schedule is removed`;
    }
    const execution = await this.launch(policy, 'SCHEDULE', false, job.id);
    job.log(`execution ${execution.id} of retention policy ${policyId} started`);
  }

  private async runTask(job: JobContext): Promise<string | void> {
    const deps = { db: this.deps.db, artifacts: this.deps.artifacts };
    try {
      return await runRetentionTask(deps, job);
    } catch (err) {
      if (job.attempt < TASK_ATTEMPTS) throw err;
      await failRetentionTask(deps, (job.payload as RetentionTaskPayload).taskId);
      throw new FinalJobFailure(`failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }
}
