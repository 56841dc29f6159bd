import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobService } from '../../src/jobs/job-service.js';
import type { Database } from '../../src/metadata/database.js';
import { pruneRuns } from '../../src/metadata/maintenance-table.js';
import { MaintenanceJobs, type MaintenanceKind } from '../../src/services/maintenance/maintenance-jobs.js';
import { openJobsDatabase, quickService, sleepUnlessAborted } from '../helpers/jobs.js';
import { waitFor } from '../helpers/poll.js';

// The generic maintenance job (services/maintenance/maintenance-jobs.ts) with a job type of the
// test's own, whose runs wait until stopped or fail on request: what the API tests cannot make a
// GC or purge run do. A running run stops and ends Stopped; a failing one ends Error; both keep
// their log in the history; a second run is refused while one is running.

const TYPE = 'TEST_MAINTENANCE';

const kind: MaintenanceKind = {
  type: TYPE,
  noun: 'test maintenance',
  parameters: (raw) => ({ mode: raw.mode === 'fail' ? 'fail' : 'wait' }),
};

describe('maintenance jobs over the job service', () => {
  let db: Database;
  let jobs: JobService;
  let maintenance: MaintenanceJobs;

  beforeAll(async () => {
    ({ db } = await openJobsDatabase());
    jobs = quickService(db, 'maintenance-test');
    maintenance = new MaintenanceJobs(db, jobs, kind);
    const definition = maintenance.jobType({
      type: TYPE,
      options: { maxAttempts: 1, concurrency: 1 },
      handler: async (job) => {
        job.log('started');
        if ((job.payload as { mode: string }).mode === 'fail') throw new Error('boom');
        await sleepUnlessAborted(120_000, job.signal);
      },
    });
    jobs.register(definition.type, definition.handler, definition.options);
    await jobs.start();
  });
  afterAll(async () => {
    await jobs?.stop(5_000);
    await db?.close();
  });

  const statusOf = async (id: number) => (await maintenance.run(id))?.status;

  it('stops a running run, which ends Stopped with its log kept', async () => {
    const run = await maintenance.runNow({ mode: 'wait' });
    expect(run).toMatchObject({ trigger: 'MANUAL', parameters: { mode: 'wait' } });
    await waitFor('the run to start', async () => (await statusOf(run.id)) === 'Running');
    await expect(maintenance.runNow({ mode: 'wait' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await maintenance.stop(run.id);
    await waitFor('the run to stop', async () => (await statusOf(run.id)) === 'Stopped');
    const kept = await db.query<{ log: string | null }>(
      'SELECT log FROM maintenance_runs WHERE job_id = $1',
      [run.id],
    );
    expect(kept[0]?.log).toMatch(/started\n.*stopped: /s);
    expect(await maintenance.log(run.id)).toContain('started');
  });

  it('shows a failed run as Error, with the failure in its log', async () => {
    const run = await maintenance.runNow({ mode: 'fail' });
    await waitFor('the run to fail', async () => (await statusOf(run.id)) === 'Error');
    expect(await maintenance.log(run.id)).toContain('boom');
    const page = await maintenance.history(
      { status: 'Error' },
      { column: 'job_id', descending: true },
      0,
      10,
    );
    expect(page.items.map((r) => r.id)).toEqual([run.id]);
    expect(page.total).toBe(1);
  });

  it('prunes the oldest runs beyond the kept number once their jobs are gone', async () => {
    const PRUNED = 'PRUNE_TEST';
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      const job = await jobs.enqueue(TYPE, { mode: 'wait' }, { delayMs: 3_600_000 });
      ids.push(Number(job.id));
      await db.query(
        `INSERT INTO maintenance_runs (job_id, kind, trigger, status, created_at)
         VALUES ($1, $2, 'MANUAL', 'succeeded', now() - $3::int * interval '1 hour')`,
        [job.id, PRUNED, 10 - i],
      );
    }
    // The oldest run's job is still held by the job service: it stays.
    await db.query('DELETE FROM jobs WHERE id = ANY($1::bigint[])', [ids.slice(1).map(String)]);
    await pruneRuns(db, PRUNED, 1);
    const left = await db.query<{ job_id: string }>(
      'SELECT job_id FROM maintenance_runs WHERE kind = $1 ORDER BY job_id',
      [PRUNED],
    );
    expect(left.map((r) => Number(r.job_id))).toEqual([ids[0], ids[3]]);
    await jobs.requestStop(ids[0]!);
  });

  it('refuses unknown runs and ids of other job types', async () => {
    const other = await db.query<{ id: number }>(
      `INSERT INTO jobs (type, payload, max_attempts) VALUES ('OTHER_TYPE', '{}', 1) RETURNING id`,
    );
    const id = Number(other[0]?.id);
    expect(await maintenance.run(id)).toBeUndefined();
    await expect(maintenance.log(id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(maintenance.stop(id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
