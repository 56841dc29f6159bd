import type { Database } from '../../src/metadata/database.js';
import { migrate } from '../../src/metadata/migrate.js';
import { openPostgresDatabase } from '../../src/metadata/postgres-database.js';
import { JobService, type JobServiceOptions } from '../../src/jobs/job-service.js';
import { openMigratedMemoryDatabase } from './memory-database.js';
import { waitFor } from './poll.js';
import { testDatabaseUrl } from './postgres.js';

// Helpers of the job service's integration tests: a migrated database of the kind the vitest
// project asks for, services on it with quick polling, and bounded waiting.

export const onPostgres = process.env.WHARF_TEST_DATABASE === 'postgres';

/**
 * A fresh migrated database: in-memory PGlite (loaded from the migrated template), or a new
 * database on the test PostgreSQL.
 */
export async function openJobsDatabase(url?: string): Promise<{ db: Database; url: string | undefined }> {
  const dbUrl = url ?? (onPostgres ? await testDatabaseUrl() : undefined);
  const db = dbUrl
    ? await openPostgresDatabase({ connection: { connectionString: dbUrl }, poolSize: 5 })
    : await openMigratedMemoryDatabase();
  await migrate(db);
  return { db, url: dbUrl };
}

export function quickService(db: Database, name: string, extra: Partial<JobServiceOptions> = {}): JobService {
  return new JobService({
    db,
    instanceName: name,
    maxJobWorkers: 4,
    pollMs: 200,
    stopCheckMs: 200,
    onError: (err, context) => console.error(`[${name}] ${context}:`, err),
    ...extra,
  });
}

/** Resolves when the signal fires, or after ms (rejecting with the signal's reason on abort). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

/** The job type `passPolls` enqueues: register it (see registerProbe) before the service starts. */
export const PROBE_TYPE = 'test-probe';

/** Registers the no-op job type that `passPolls` uses to observe the service's polling. */
export function registerProbe(service: JobService): void {
  service.register(PROBE_TYPE, async () => undefined);
}

/**
 * Returns once `service` has polled for due jobs `times` more times, each seen to run a probe job
 * enqueued after the previous one: what a test that something does NOT happen waits for, instead
 * of a fixed sleep ("after a few more polls, the job has still run once").
 */
export async function passPolls(service: JobService, times = 2): Promise<void> {
  for (let i = 0; i < times; i++) {
    const probe = await service.enqueue(PROBE_TYPE, { i });
    await waitFor(
      `probe job ${i + 1} of ${times}`,
      async () => (await service.job(probe.id))?.status === 'succeeded',
    );
  }
}
