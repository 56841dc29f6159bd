import { join } from 'node:path';
import type { WharfConfig } from '../config/schema.js';
import type { Database } from '../metadata/database.js';
import { migrate } from '../metadata/migrate.js';
import { openPgliteDatabase } from '../metadata/pglite-database.js';
import { connectionSettings, openPostgresDatabase } from '../metadata/postgres-database.js';
import { secureEmbeddedDatabase } from '../private-paths.js';
import type { StorageDriver } from '../storage/driver.js';
import { FilesystemDriver } from '../storage/filesystem-driver.js';
import { S3Driver } from '../storage/s3-driver.js';

// The backends every command needs: the metadata database (migrated) and the blob storage.
// Commands open them from the configuration; a program that embeds Wharf (the in-process test
// harness) may open them itself and hand them over, keeping them across a stop and a new start.

/** A database and a storage driver opened by the caller of startServer, who closes them. */
export interface OpenedBackends {
  db: Database;
  storage: StorageDriver;
}

export interface Backends extends OpenedBackends {
  /** Closes the database and releases the storage's connections. */
  close(): Promise<void>;
}

export async function openBackends(config: WharfConfig): Promise<Backends> {
  const s3 = config.storage.s3 ? new S3Driver(config.storage.s3) : null;
  const storage =
    s3 ?? new FilesystemDriver(config.storage.filesystem?.root ?? join(config.data_dir, 'storage'));
  const db = usesExternalDatabase(config)
    ? await openPostgresDatabase({
        connection: connectionSettings(config.database),
        poolSize: config.database.pool_size,
      })
    : await openPgliteDatabase(join(config.data_dir, 'pg'));
  const close = async () => {
    s3?.close();
    await db.close();
  };
  try {
    await secureEmbeddedDatabase(config);
    await migrate(db);
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return { db, storage, close };
}

/**
 * Takes backends the caller opened: migrated like those opened from the configuration, but left
 * open at shutdown, so that their owner can start again on the same data (a restart) and close
 * them when it is done.
 */
export async function adoptBackends(given: OpenedBackends): Promise<Backends> {
  await migrate(given.db);
  return { db: given.db, storage: given.storage, close: async () => undefined };
}

/** An external PostgreSQL (shared by instances) rather than the embedded, single-process PGlite. */
export function usesExternalDatabase(config: WharfConfig): boolean {
  return config.database.url !== undefined || config.database.host !== undefined;
}
