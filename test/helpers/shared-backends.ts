import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { openBackends, type Backends } from '../../src/wharf.js';

// The database and storage of running instances (an external PostgreSQL and a filesystem root or
// an S3 bucket), opened in the test process as Wharf opens them from its configuration: for a
// test that reads the store directly while the instances keep running.

export interface SharedStore {
  databaseUrl: string;
  /** The `storage:` section of the instances' configuration. */
  storage: Record<string, unknown>;
}

/** Runs `inspect` on the store's backends and closes them. */
export async function withSharedBackends<T>(
  store: SharedStore,
  inspect: (backends: Pick<Backends, 'db' | 'storage'>) => Promise<T>,
): Promise<T> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-inspect-'));
  const config = configSchema.parse({
    data_dir: dataDir,
    database: { url: store.databaseUrl },
    storage: store.storage,
  });
  const backends = await openBackends(config);
  try {
    return await inspect(backends);
  } finally {
    await backends.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
