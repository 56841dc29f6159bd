import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/metadata/database.js';
import type { JobService } from '../../src/jobs/job-service.js';
import { onPostgres, openJobsDatabase, passPolls, quickService, registerProbe } from '../helpers/jobs.js';
import { REPO_ROOT } from '../helpers/server.js';
import { waitFor } from '../helpers/poll.js';

// Several instances on one PostgreSQL (each with its own connection pool, as separate processes
// would have): a job never runs twice at once, a schedule fires once per fire time, and the job
// of an instance killed with SIGKILL is taken over once its lease expires. PGlite admits one
// process, so these run on PostgreSQL only.

describe.runIf(onPostgres)('job service across instances', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function instances(n: number): Promise<{ dbs: Database[]; services: JobService[]; url: string }> {
    const first = await openJobsDatabase();
    const url = first.url as string;
    const dbs = [first.db];
    for (let i = 1; i < n; i++) dbs.push((await openJobsDatabase(url)).db);
    const services = dbs.map((db, i) => quickService(db, `instance-${i}`));
    cleanups.push(async () => {
      await Promise.all(services.map((s) => s.stop(2_000)));
      await Promise.all(dbs.map((db) => db.close()));
    });
    return { dbs, services, url };
  }

  it('never runs one job on two instances at once, and runs each exactly once', async () => {
    const { services } = await instances(3);
    const active = new Set<number>();
    const runs = new Map<number, number>();
    let overlaps = 0;
    for (const s of services) {
      s.register('work', async (job) => {
        if (active.has(job.id)) overlaps++;
        active.add(job.id);
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 40));
        active.delete(job.id);
      });
      registerProbe(s);
    }
    const ids: number[] = [];
    for (let i = 0; i < 60; i++) ids.push((await (services[i % 3] as JobService).enqueue('work', { i })).id);
    await Promise.all(services.map((s) => s.start()));
    await waitFor('all jobs done', async () => ids.every((id) => runs.has(id)) && active.size === 0, 60_000);
    for (const s of services) await passPolls(s); // a late second run would have shown by now
    expect(overlaps).toBe(0);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(runs.size).toBe(60);
  });

  it('fires a cron schedule once per fire time across instances', async () => {
    const { dbs, services } = await instances(2);
    for (const s of services) s.register('tick', async () => undefined);
    await Promise.all(services.map((s) => s.start()));
    await (services[0] as JobService).saveSchedule({ type: 'tick', cron: '* * * * * *' });
    const db = dbs[0] as Database;
    await waitFor(
      'five fires',
      async () => {
        const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE type = 'tick'");
        return (rows[0]?.n ?? 0) >= 5;
      },
      20_000,
    );
    await (services[0] as JobService).pauseSchedule('tick', 0, true);
    const perFire = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs WHERE type = 'tick' GROUP BY fire_time",
    );
    expect(perFire.every((r) => r.n === 1)).toBe(true);
    // Every fire time in the window has its job: consecutive seconds, none skipped twice over.
    const fires = await db.query<{ fire_time: Date }>(
      "SELECT fire_time FROM jobs WHERE type = 'tick' ORDER BY fire_time",
    );
    const times = fires.map((f) => f.fire_time.getTime());
    expect(new Set(times).size).toBe(times.length);
  });

  it('takes over the job of an instance killed with SIGKILL once its lease expires', async () => {
    const { dbs, services, url } = await instances(1);
    const survivor = services[0] as JobService;
    const db = dbs[0] as Database;
    const child: ChildProcess = spawn(
      process.execPath,
      [join(REPO_ROOT, 'test', 'helpers', 'job-harness.ts'), url, '2000'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor('harness up', async () => /pool \S+/.test(out), 30_000);
    const harnessPool = /pool (\S+)/.exec(out)?.[1];

    // Only the harness knows the type until it dies, so it claims the job.
    const ran: number[] = [];
    survivor.register('sleepy', async (job) => {
      ran.push(job.attempt);
      job.log(`finished by the survivor`);
    });
    const enqueuer = quickService(db, 'enqueuer');
    cleanups.push(() => enqueuer.stop(0));
    enqueuer.register('sleepy', async () => undefined, { leaseMs: 2_000, maxAttempts: 3 });
    const job = await enqueuer.enqueue('sleepy', {});
    await waitFor('the harness runs it', async () => out.includes(`started ${job.id}`), 30_000);
    expect((await survivor.job(job.id))?.lease_owner).toBe(harnessPool);

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await survivor.start();
    await waitFor('taken over', async () => (await survivor.job(job.id))?.status === 'succeeded', 30_000);
    expect(ran).toEqual([2]);
    const log = (await survivor.log(job.id)) ?? '';
    // Named by its instance name, as operators know it (the harness calls itself harness-<pid>).
    expect(log).toMatch(new RegExp(`the lease of harness-${child.pid} expired; to be run again`));
    expect(log).toMatch(/finished by the survivor/);
  });
});
