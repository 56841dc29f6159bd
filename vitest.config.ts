import { defineConfig } from 'vitest/config';

// Three tiers (see docs/architecture.md): unit tests next to the code, integration tests against
// real services (run once on PGlite and once on a real PostgreSQL), and end-to-end tests that drive
// real clients (skopeo, podman, buildah) against a running server.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], testTimeout: 30_000 } },
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
