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

export interface Backends {
  db: Database;
  storage: StorageDriver;
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

/** An external PostgreSQL (shared by instances) rather than the embedded, single-process PGlite. */
export function usesExternalDatabase(config: WharfConfig): boolean {
  return config.database.url !== undefined || config.database.host !== undefined;
}
