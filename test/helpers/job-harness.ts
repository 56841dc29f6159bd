// A job service instance in a process of its own, for tests that kill it (SIGKILL): it opens the
// database given as argument, registers the job type `sleepy` (a handler that sleeps until
// aborted) and prints "started <job id>" when a job starts. No test-only code path in Wharf:
// it is the production JobService with a test's handler.
//
// Run with the project's Node: node test/helpers/job-harness.ts <database url> <lease ms>
// Node strips the types; the hook maps the sources' './x.js' imports to the .ts files.
import { registerHooks } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (context.parentURL?.endsWith('.ts') && /^\.\.?\//.test(specifier) && specifier.endsWith('.js')) {
      const ts = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
      if (
        !existsSync(fileURLToPath(new URL(specifier, context.parentURL))) &&
        existsSync(fileURLToPath(ts))
      ) {
        return nextResolve(ts.href, context);
      }
    }
    return nextResolve(specifier, context);
  },
});

const [url, leaseArg] = process.argv.slice(2);
if (!url) throw new Error('usage: job-harness.ts <database url> <lease ms>');
const { openPostgresDatabase } = await import('../../src/metadata/postgres-database.js');
const { JobService } = await import('../../src/jobs/job-service.js');

const db = await openPostgresDatabase({ connection: { connectionString: url }, poolSize: 3 });
const service = new JobService({
  db,
  instanceName: `harness-${process.pid}`,
  maxJobWorkers: 4,
  pollMs: 200,
  stopCheckMs: 200,
  onError: (err, context) => console.error(context, err),
});
service.register(
  'sleepy',
  (job) =>
    new Promise<void>((resolve, reject) => {
      console.log(`started ${job.id}`);
      job.log(`sleeping in ${process.pid}`);
      const timer = setTimeout(resolve, 600_000);
      job.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(job.signal.reason as Error);
      });
    }),
  { leaseMs: Number(leaseArg ?? 3_000), maxAttempts: 3 },
);
await service.start();
console.log(`pool ${service.poolId}`);
process.on('SIGTERM', () => {
  void service
    .stop(1_000)
    .then(() => db.close())
    .then(() => process.exit(0));
});
