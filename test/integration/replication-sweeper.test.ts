import { afterEach, describe, expect, it } from 'vitest';
import type { JobService } from '../../src/jobs/job-service.js';
import type { Database } from '../../src/metadata/database.js';
import {
  findExecution,
  findTask,
  insertExecution,
  insertTasks,
  markPlanned,
  setTaskJob,
  setTaskStatus,
  type ExecutionRow,
} from '../../src/metadata/replication-executions-table.js';
import { runSweepJob, SWEEP_JOB } from '../../src/replication/execution/sweeper.js';
import { openJobsDatabase, quickService, sleepUnlessAborted } from '../helpers/jobs.js';
import { waitFor } from '../helpers/poll.js';

// The replication sweeper on the database of the vitest project, with the production job service:
// real jobs end in error or are stopped while their replication task is open (as a handler that
// throws past its retries, or a stop through /jobservice/jobs/{id}, leaves them), and one sweep
// closes those tasks and finishes their executions, and leaves alone what still runs.

describe('replication sweeper', () => {
  let db: Database | undefined;
  let service: JobService | undefined;
  /** The reconciliations the sweeper asks for (policy ids): what the Reconciler would be told. */
  let requested: number[] = [];
  const reconciler = {
    request: async (policyId: number) => {
      requested.push(policyId);
      return null;
    },
  };

  afterEach(async () => {
    await service?.stop(2_000);
    await db?.close();
    service = undefined;
    db = undefined;
  });

  async function setup(): Promise<{ d: Database; s: JobService }> {
    const d = (db = (await openJobsDatabase()).db);
    const s = (service = quickService(d, 'sweeper'));
    requested = [];
    s.register(SWEEP_JOB, (job) => runSweepJob({ db: d, jobs: s }, reconciler, job), { maxAttempts: 1 });
    s.register(
      'broken',
      () => {
        throw new Error('the handler failed outside its own error handling');
      },
      { maxAttempts: 1 },
    );
    s.register('sleepy', (job) => sleepUnlessAborted(600_000, job.signal), { maxAttempts: 1 });
    await s.start();
    return { d, s };
  }

  async function finalJob(s: JobService, id: number, status: string): Promise<void> {
    await waitFor(`job ${id} ${status}`, async () => (await s.job(id))?.status === status);
  }

  /** A planned execution with one open (InProgress) task run by job `jobId`. */
  async function openTask(d: Database, jobId: number): Promise<{ execution: ExecutionRow; taskId: number }> {
    const execution = await insertExecution(d, { policyId: 1, trigger: 'manual' });
    if (!execution) throw new Error('no execution');
    const [task] = await insertTasks(d, execution.id, [
      {
        operation: 'copy',
        srcRepository: 'p/a',
        dstRepository: 'p/a',
        tag: `t${jobId}`,
        digest: 'sha256:0',
        deadlineMs: 60_000,
      },
    ]);
    if (!task) throw new Error('no task');
    await setTaskJob(d, task.id, jobId);
    await setTaskStatus(d, task.id, 'InProgress');
    await markPlanned(d, execution.id, 1, 'test plan');
    return { execution, taskId: task.id };
  }

  async function sweep(s: JobService): Promise<string> {
    const job = await s.enqueue(SWEEP_JOB, {});
    await finalJob(s, job.id, 'succeeded');
    return (await s.log(job.id)) ?? '';
  }

  it('fails a task whose job ended in error, and its execution', async () => {
    const { d, s } = await setup();
    const broken = await s.enqueue('broken', {});
    await finalJob(s, broken.id, 'error');
    const { execution, taskId } = await openTask(d, broken.id);

    const log = await sweep(s);

    expect((await findTask(d, taskId))?.status).toBe('Failed');
    expect(await findExecution(d, execution.id)).toMatchObject({ status: 'Failed' });
    // The work it did not do is asked for again.
    expect(requested).toEqual([execution.policy_id]);
    expect(log).toMatch(new RegExp(`task ${taskId} .*its job ended \\(error\\).*marked Failed`));
    await waitFor('the note in the task job log', async () =>
      /closed by the sweeper/.test((await s.log(broken.id)) ?? ''),
    );
  });

  it('marks a task Stopped whose job was stopped on its own', async () => {
    const { d, s } = await setup();
    const sleepy = await s.enqueue('sleepy', {});
    await waitFor('running', async () => (await s.job(sleepy.id))?.status === 'running');
    await s.requestStop(sleepy.id);
    await finalJob(s, sleepy.id, 'stopped');
    const { execution, taskId } = await openTask(d, sleepy.id);

    await sweep(s);

    expect((await findTask(d, taskId))?.status).toBe('Stopped');
    expect((await findExecution(d, execution.id))?.status).toBe('Stopped');
    // Stopped is someone's decision: nothing asked again.
    expect(requested).toEqual([]);
  });

  it('leaves tasks of running jobs and young tasks without a job alone', async () => {
    const { d, s } = await setup();
    const sleepy = await s.enqueue('sleepy', {});
    await waitFor('running', async () => (await s.job(sleepy.id))?.status === 'running');
    const running = await openTask(d, sleepy.id);
    const missingJob = 987_654_321;
    const young = await openTask(d, missingJob);

    await sweep(s);

    expect((await findTask(d, running.taskId))?.status).toBe('InProgress');
    expect((await findTask(d, young.taskId))?.status).toBe('InProgress');
    expect((await findExecution(d, running.execution.id))?.status).toBe('InProgress');

    // The same task without a job row, once its execution is older than the grace period.
    await d.query(`UPDATE replication_executions SET start_time = now() - interval '1 hour' WHERE id = $1`, [
      young.execution.id,
    ]);
    const log = await sweep(s);
    expect((await findTask(d, young.taskId))?.status).toBe('Failed');
    expect(log).toMatch(/its job is gone/);
    expect((await findTask(d, running.taskId))?.status).toBe('InProgress');
  });

  it('fails an unplanned execution whose planning job ended, and finishes planned ones with no open task', async () => {
    const { d, s } = await setup();
    const broken = await s.enqueue('broken', {});
    await finalJob(s, broken.id, 'error');
    const unplanned = await insertExecution(d, { policyId: 2, trigger: 'manual' });
    if (!unplanned) throw new Error('no execution');
    await d.query('UPDATE replication_executions SET job_id = $2 WHERE id = $1', [unplanned.id, broken.id]);
    const empty = await insertExecution(d, { policyId: 3, trigger: 'manual' });
    if (!empty) throw new Error('no execution');
    await markPlanned(d, empty.id, 0, 'nothing to do');

    const log = await sweep(s);

    expect(await findExecution(d, unplanned.id)).toMatchObject({
      status: 'Failed',
      status_text: 'the planning job ended without planning (error)',
    });
    expect((await findExecution(d, empty.id))?.status).toBe('Succeed');
    expect(log).toMatch(new RegExp(`execution ${empty.id} finished: Succeed`));
  });
});
