import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres.js';

// Global setup of the integration-postgres project: one PostgreSQL server for the whole run, each
// test creating its own database on it (testDatabaseUrl() in ./postgres.ts).

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the run's PostgreSQL server: postgres://postgres@127.0.0.1:PORT/postgres */
    postgresUrl: string;
  }
}

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres();
  provide('postgresUrl', server.url);
  // Workers are started after global setup and inherit this process's environment, so helpers
  // that must not import vitest (testDatabaseUrl) read the URL from here.
  process.env.WHARF_TEST_POSTGRES_URL = server.url;
  return async () => {
    delete process.env.WHARF_TEST_POSTGRES_URL;
    await server.stop();
  };
}
