import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/metadata/database.js';
import type { JobService } from '../../src/jobs/job-service.js';
import {
  openJobsDatabase,
  passPolls,
  quickService,
  registerProbe,
  sleepUnlessAborted,
} from '../helpers/jobs.js';
import { waitFor } from '../helpers/poll.js';

// The job service on the database of the vitest project (PGlite or PostgreSQL), one instance:
// runs, retries, deadlines, stop, schedules, logs, graceful release. Two-instance behaviour is
// in jobs-cluster.test.ts (PostgreSQL only).

describe('job service', () => {
  let db: Database | undefined;
  const services: JobService[] = [];

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop(2_000)));
    await db?.close();
    db = undefined;
  });

  async function setup(): Promise<Database> {
    db = (await openJobsDatabase()).db;
    return db;
  }

  function service(d: Database, name = 'a') {
    const s = quickService(d, name);
    services.push(s);
    return s;
  }

  it('runs a job once and records success and its log', async () => {
    const d = await setup();
    const s = service(d);
    const runs: unknown[] = [];
    s.register('echo', async (job) => {
      runs.push(job.payload);
      job.log('hello from the handler');
    });
    registerProbe(s);
    await s.start();
    const job = await s.enqueue('echo', { n: 1 });
    const done = await waitFor('success', async () => (await s.job(job.id))?.status === 'succeeded');
    expect(done).toBe(true);
    await passPolls(s); // a few more polls: still once
    expect(runs).toEqual([{ n: 1 }]);
    const row = await s.job(job.id);
    expect(row).toMatchObject({ status: 'succeeded', attempts: 1, lease_owner: null });
    const log = (await s.log(job.id)) ?? '';
    expect(log).toMatch(/attempt 1 of 3 started/);
    expect(log).toMatch(/hello from the handler/);
    expect(log).toMatch(/succeeded/);
  });

  it('retries a failing job with growing delays and ends in error after its limit', async () => {
    const d = await setup();
    const s = service(d);
    const at: number[] = [];
    s.register(
      'flaky',
      async () => {
        at.push(Date.now());
        throw new Error('peer unreachable');
      },
      { maxAttempts: 3, backoffBaseMs: 300, backoffMaxMs: 10_000 },
    );
    await s.start();
    const job = await s.enqueue('flaky', {});
    await waitFor('error', async () => (await s.job(job.id))?.status === 'error');
    const row = await s.job(job.id);
    expect(row).toMatchObject({ status: 'error', attempts: 3, last_error: 'peer unreachable' });
    expect(at).toHaveLength(3);
    // Backoff: 300 ms then 600 ms (plus jitter and polling); generous lower bounds only.
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(250);
    expect((at[2] as number) - (at[1] as number)).toBeGreaterThanOrEqual(550);
    const log = (await s.log(job.id)) ?? '';
    expect(log.match(/retry in/g)).toHaveLength(2);
    expect(log).toMatch(/no retry left/);
  });

  it('stops retrying once the deadline of the type has passed', async () => {
    const d = await setup();
    const s = service(d);
    let runs = 0;
    s.register(
      'deadline',
      async () => {
        runs++;
        throw new Error('still down');
      },
      { maxAttempts: 100, backoffBaseMs: 400, backoffMaxMs: 400, deadlineMs: 3_000 },
    );
    await s.start();
    const job = await s.enqueue('deadline', {});
    await waitFor('error', async () => (await s.job(job.id))?.status === 'error');
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(runs).toBeLessThan(100);
  });

  it('interrupts a running handler when a stop is requested', async () => {
    const d = await setup();
    const s = service(d);
    let aborted = false;
    s.register('long', async (job) => {
      try {
        await sleepUnlessAborted(60_000, job.signal);
      } catch (err) {
        aborted = true;
        throw err;
      }
    });
    await s.start();
    const job = await s.enqueue('long', {});
    await waitFor('running', async () => (await s.job(job.id))?.status === 'running');
    expect(await s.requestStop(job.id)).toBe('running');
    await waitFor('stopped', async () => (await s.job(job.id))?.status === 'stopped', 10_000);
    expect(aborted).toBe(true);
    expect(await s.log(job.id)).toMatch(/stopped on request/);
    // A pending job is stopped at once; an unknown one is reported as such.
    const later = await s.enqueue('long', {}, { delayMs: 60_000 });
    expect(await s.requestStop(later.id)).toBe('stopped');
    expect(await s.requestStop(999_999)).toBeUndefined();
  });

  it('fires a cron schedule (six fields, seconds) once per fire time', async () => {
    const d = await setup();
    const s = service(d);
    const runs: number[] = [];
    s.register('tick', async (job) => {
      runs.push(job.id);
    });
    await s.start();
    await s.saveSchedule({ type: 'tick', cron: '* * * * * *', payload: { from: 'cron' } });
    await waitFor('three fires', async () => runs.length >= 3, 15_000);
    await s.pauseSchedule('tick', 0, true);
    const rows = await d.query<{ fire_time: Date; n: number }>(
      'SELECT fire_time, count(*)::int AS n FROM jobs WHERE type = $1 GROUP BY fire_time',
      ['tick'],
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect((await s.listSchedules(0, 10)).total).toBe(1);
    await expect(s.saveSchedule({ type: 'tick', cron: 'every day' })).rejects.toThrow(/invalid cron/);
  });

  it('pausing a queue holds its jobs until it is resumed', async () => {
    const d = await setup();
    const s = service(d);
    s.register('held', async () => undefined);
    registerProbe(s);
    await s.start();
    await s.queueAction('held', 'pause');
    const job = await s.enqueue('held', {});
    await passPolls(s); // polls that ran other jobs passed it by
    expect((await s.job(job.id))?.status).toBe('pending');
    expect((await s.queues()).find((q) => q.type === 'held')).toMatchObject({ count: 1, paused: true });
    await s.queueAction('held', 'resume');
    await waitFor('success', async () => (await s.job(job.id))?.status === 'succeeded');
  });

  it('runs at most the configured number of jobs of a type at once', async () => {
    const d = await setup();
    const s = service(d);
    let now = 0;
    let peak = 0;
    let started = 0;
    s.register(
      'limited',
      async () => {
        now++;
        started++;
        peak = Math.max(peak, now);
        // Held until a second job runs beside it (or none is left to), so that every poll finds
        // the type at its limit: a third claim, were it allowed, would land meanwhile.
        await waitFor('a second job running beside this one', async () => now >= 2 || started === 6);
        now--;
      },
      { concurrency: 2 },
    );
    await s.start();
    const jobs = await Promise.all(Array.from({ length: 6 }, () => s.enqueue('limited', {})));
    await waitFor('all done', async () => {
      const rows = await Promise.all(jobs.map((j) => s.job(j.id)));
      return rows.every((r) => r?.status === 'succeeded');
    });
    expect(peak).toBe(2);
  });

  it('at graceful shutdown releases a running job at once, without counting the attempt', async () => {
    const d = await setup();
    const first = quickService(d, 'first');
    first.register('long', (job) => sleepUnlessAborted(60_000, job.signal));
    await first.start();
    const job = await first.enqueue('long', {});
    await waitFor('running', async () => (await first.job(job.id))?.status === 'running');
    await first.stop(500);
    expect(await first.job(job.id)).toMatchObject({ status: 'pending', attempts: 0, lease_owner: null });
    const second = service(d, 'second');
    second.register('long', async () => undefined);
    await second.start();
    await waitFor('success', async () => (await second.job(job.id))?.status === 'succeeded');
    expect(await second.log(job.id)).toMatch(/released at the shutdown of/);
  });
});
