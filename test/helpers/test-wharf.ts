import { startWharf, type StartOptions, type WharfHandle } from './server.js';
import { testDatabaseUrl } from './postgres.js';

/**
 * Starts Wharf on the database the current vitest project asks for: WHARF_TEST_DATABASE=postgres
 * gives a fresh database on the harness's real PostgreSQL, anything else the embedded PGlite.
 */
export async function startTestWharf(options: StartOptions = {}): Promise<WharfHandle> {
  const databaseUrl = process.env.WHARF_TEST_DATABASE === 'postgres' ? await testDatabaseUrl() : undefined;
  return startWharf({ ...options, ...(databaseUrl && !options.databaseUrl && { databaseUrl }) });
}
