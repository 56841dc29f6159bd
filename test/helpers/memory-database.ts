import type { Database } from '../../src/metadata/database.js';
import { openPgliteDatabase } from '../../src/metadata/pglite-database.js';
import { bareDatabaseSnapshot, embeddedDatabaseSnapshot } from './pglite-template.js';

// Embedded databases in memory for tests that use the metadata layer without a whole Wharf: each
// is loaded from a snapshot (pglite-template.ts) instead of paying initdb and every migration.

/** A new, empty, migrated database in memory: what `openPgliteDatabase(undefined)` + migrate give. */
export async function openMigratedMemoryDatabase(): Promise<Database> {
  return openPgliteDatabase(undefined, { initialData: await embeddedDatabaseSnapshot('src') });
}

/** A new database in memory as initdb leaves it, no migration applied. */
export async function openBareMemoryDatabase(): Promise<Database> {
  return openPgliteDatabase(undefined, { initialData: await bareDatabaseSnapshot() });
}
