import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/metadata/database.js';
import type { JobService } from '../../src/jobs/job-service.js';
import { apiCaller, basicAuth } from '../helpers/api-client.js';
import { onPostgres, openJobsDatabase, quickService, sleepUnlessAborted } from '../helpers/jobs.js';
import { testDatabaseUrl } from '../helpers/postgres.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import { waitFor } from '../helpers/poll.js';

// The job service's API (/jobservice, /schedules) on a real `wharf serve`: permissions, bad
// input, Harbor's shapes. On PostgreSQL, a second "instance" (a JobService in this process on
// the same database) runs jobs, and the server shows their logs and stops them: any instance
// serves any job.

describe('/api/v2.0/jobservice and /schedules', () => {
  let wharf: InProcessWharf;
  let admin: string;
  let alice: string;
  const call = apiCaller(() => wharf);
  let url: string | undefined;

  beforeAll(async () => {
    url = onPostgres ? await testDatabaseUrl() : undefined;
    wharf = await startInProcessTestWharf({ ...(url && { databaseUrl: url }), projects: [] });
    admin = adminAuth(wharf);
    const created = await call('POST', '/users', admin, { username: 'alice', password: 'Alice-Passw0rd' });
    expect(created.status).toBe(201);
    alice = basicAuth('alice', 'Alice-Passw0rd');
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('is for system administrators: 401 anonymous, 403 others', async () => {
    const paths: Array<[string, string, unknown?]> = [
      ['GET', '/jobservice/queues'],
      ['PUT', '/jobservice/queues/all', { action: 'pause' }],
      ['PUT', '/jobservice/jobs/1', { action: 'stop' }],
      ['GET', '/jobservice/jobs/1/log'],
      ['GET', '/jobservice/pools'],
      ['GET', '/jobservice/pools/all/workers'],
      ['GET', '/schedules'],
      ['GET', '/schedules/all/paused'],
    ];
    for (const [method, path, body] of paths) {
      expect((await call(method, path, undefined, body)).status, `${method} ${path}`).toBe(401);
      expect((await call(method, path, alice, body)).status, `${method} ${path}`).toBe(403);
    }
  });

  it('answers unknown jobs with 404 and bad actions with 400', async () => {
    expect((await call('PUT', '/jobservice/jobs/424242', admin, { action: 'stop' })).status).toBe(404);
    expect((await call('PUT', '/jobservice/jobs/not-a-number', admin, { action: 'stop' })).status).toBe(404);
    expect((await call('GET', '/jobservice/jobs/424242/log', admin)).status).toBe(404);
    expect((await call('PUT', '/jobservice/jobs/1', admin, { action: 'explode' })).status).toBe(400);
    expect((await call('PUT', '/jobservice/jobs/1', admin, {})).status).toBe(400);
    expect((await call('PUT', '/jobservice/queues/all', admin, { action: 'explode' })).status).toBe(400);
    expect((await call('PUT', '/jobservice/queues/no-such-type', admin, { action: 'pause' })).status).toBe(
      404,
    );
    expect((await call('GET', '/jobservice/pools/no-such-pool/workers', admin)).status).toBe(404);
    const bad = await call('PUT', '/jobservice/jobs/1', admin, { action: 'explode' });
    expect(((await bad.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('BAD_REQUEST');
  });

  it("lists queues, pools and schedules in Harbor's shapes; pauses and resumes all queues", async () => {
    const queues = await call('GET', '/jobservice/queues', admin);
    expect(queues.status).toBe(200);
    expect(Array.isArray(await queues.json())).toBe(true);
    const pools = (await (await call('GET', '/jobservice/pools', admin)).json()) as Array<
      Record<string, unknown>
    >;
    expect(pools.length).toBeGreaterThanOrEqual(1);
    expect(pools[0]).toMatchObject({ worker_pool_id: expect.any(String), pid: expect.any(Number) });
    const workers = await call('GET', `/jobservice/pools/${String(pools[0]?.worker_pool_id)}/workers`, admin);
    expect(workers.status).toBe(200);
    const schedules = await call('GET', '/schedules?page=1&page_size=5', admin);
    expect(schedules.status).toBe(200);
    // The one system schedule of a fresh registry: the replication sweeper, every minute.
    expect(schedules.headers.get('x-total-count')).toBe('1');
    const [sweeper] = (await schedules.json()) as Array<Record<string, unknown>>;
    expect(sweeper).toMatchObject({ vendor_type: 'replication-sweep', cron: '17 * * * * *' });
    expect(await (await call('GET', '/schedules/all/paused', admin)).json()).toEqual({ paused: false });
    expect((await call('PUT', '/jobservice/queues/all', admin, { action: 'pause' })).status).toBe(200);
    expect(await (await call('GET', '/schedules/all/paused', admin)).json()).toEqual({ paused: true });
    expect((await call('PUT', '/jobservice/queues/all', admin, { action: 'resume' })).status).toBe(200);
    expect(await (await call('GET', '/schedules/all/paused', admin)).json()).toEqual({ paused: false });
  });

  describe.runIf(onPostgres)('with jobs run by another instance', () => {
    let db: Database;
    let other: JobService;
    let aborted = false;

    beforeAll(async () => {
      db = (await openJobsDatabase(url)).db;
      other = quickService(db, 'other');
      other.register('chatty', async (job) => {
        job.log('copying layer 1 of 2');
        job.log('copying layer 2 of 2');
      });
      other.register('sleepy', async (job) => {
        try {
          await sleepUnlessAborted(60_000, job.signal);
        } catch (err) {
          aborted = true;
          throw err;
        }
      });
      await other.start();
    });
    afterAll(async () => {
      await other?.stop(2_000);
      await db?.close();
    });

    it('shows the log of a job another instance ran', async () => {
      const job = await other.enqueue('chatty', {});
      await waitFor('success', async () => (await other.job(job.id))?.status === 'succeeded');
      const res = await call('GET', `/jobservice/jobs/${job.id}/log`, admin);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      // The outcome's own line follows the status change by a moment.
      const text = await waitFor('the whole log', async () => {
        const t = await (await call('GET', `/jobservice/jobs/${job.id}/log`, admin)).text();
        return /succeeded/.test(t) && t;
      });
      expect(text).toMatch(/copying layer 1 of 2\n.*copying layer 2 of 2\n/);
      expect(text).toMatch(/succeeded/);
    });

    it('stops a job another instance runs, interrupting its handler', async () => {
      const job = await other.enqueue('sleepy', {});
      await waitFor('running', async () => (await other.job(job.id))?.status === 'running');
      const queues = (await (await call('GET', '/jobservice/queues', admin)).json()) as Array<{
        job_type: string;
      }>;
      expect(queues.map((q) => q.job_type)).toContain('sleepy');
      const workers = (await (await call('GET', `/jobservice/pools/all/workers`, admin)).json()) as Array<{
        job_id: string;
      }>;
      expect(workers.map((w) => w.job_id)).toContain(String(job.id));
      expect((await call('PUT', `/jobservice/jobs/${job.id}`, admin, { action: 'stop' })).status).toBe(200);
      await waitFor('stopped', async () => (await other.job(job.id))?.status === 'stopped', 10_000);
      expect(aborted).toBe(true);
    });
  });
});
