import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Tiers (see docs/architecture.md): unit tests next to the code; integration tests (run once on
// PGlite and once on a real PostgreSQL), of which those that start no process form the in-process
// tier (`inprocess`, the app built in the test process and driven with inject: with `unit`, the
// inner loop, `npm run test:fast`); storage drivers and HA against real servers; end-to-end tests
// that drive real clients (skopeo, podman, buildah) against a running server.

const INTEGRATION = 'test/integration';

/** Helpers and calls that start a process: the built CLI, peers, databases, clusters. */
const STARTS_A_PROCESS =
  /\b(startWharf\w*|startTestWharf|startSharedPair|startDockerRegistry|startHtpasswdRegistry|startTlsRegistry|startPostgres|startRedis\w*|runCli|spawn|execFile|start\w*Cluster\w*|startS3Server)\s*\(/;

/** Files whose length is their point (a receiver down for two minutes): not for the inner loop. */
const LONG_BY_DESIGN = new Set([
  'webhooks-outage.test.ts',
  // Partitions heal through replication's retries: the tests wait out backoffs (2 s doubling, to 5 s).
  'replication-mesh.test.ts',
  'replication-two-way-outage.test.ts',
  // 20 event runs back off from a stopped destination and converge once it is back.
  'replication-outage.test.ts',
  // 200+ push/delete cycles racing GC run back to back: a minute or two by design.
  'gc-race.test.ts',
]);

/** The integration test files that start no process of their own: the in-process tier. */
function inProcessFiles(): string[] {
  return readdirSync(INTEGRATION)
    .filter((name) => name.endsWith('.test.ts') && !LONG_BY_DESIGN.has(name))
    .filter((name) => !STARTS_A_PROCESS.test(readFileSync(join(INTEGRATION, name), 'utf8')))
    .map((name) => `${INTEGRATION}/${name}`);
}

export default defineConfig({
  test: {
    // Integration files mostly wait (on servers, peers, polls): more workers than this machine's
    // two cores keep both busy. Files are isolated (own ports, directories and databases).
    maxWorkers: 3,
    projects: [
      {
        test: {
          name: 'inprocess',
          include: inProcessFiles(),
          env: { WHARF_TEST_DATABASE: 'pglite' },
          // A worker runs its files one after another on one module graph: Wharf's modules, the
          // database template and PGlite are loaded once per worker instead of once per file (half
          // of this tier's time). Each file starts its own apps; a file that mocks a module Wharf
          // imports loads Wharf afresh after mocking it (security-login.test.ts).
          isolate: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Some unit tests open an embedded database: slow to start on a loaded machine.
        test: { name: 'unit', include: ['src/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 60_000 },
      },
      {
        test: {
          name: 'integration-pglite',
          include: ['test/integration/**/*.test.ts'],
          env: { WHARF_TEST_DATABASE: 'pglite' },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration-postgres',
          include: ['test/integration/**/*.test.ts'],
          env: { WHARF_TEST_DATABASE: 'postgres' },
          globalSetup: ['test/helpers/postgres-global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Storage drivers against real servers (the S3 driver against an S3-compatible server).
        test: {
          name: 'storage',
          include: ['test/storage/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // High availability: several real instances, PostgreSQL, Redis, nginx/HAProxy, faults.
        test: {
          name: 'ha',
          include: ['test/ha/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
