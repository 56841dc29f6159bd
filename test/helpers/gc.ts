import { noClusterBus } from '../../src/cluster/bus.js';
import { createCoherentLookupCache } from '../../src/cluster/coherent-cache.js';
import { createLocalLookupCache } from '../../src/cluster/lookup-cache.js';
import { createManifestCache } from '../../src/cluster/manifest-cache.js';
import type { Database } from '../../src/metadata/database.js';
import { findJob, insertJob, readJobLog, type JobRow } from '../../src/metadata/jobs-table.js';
import { ArtifactService } from '../../src/services/artifacts/artifact-service.js';
import { GC_JOB_TYPE, type GcDeps } from '../../src/services/gc/index.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { waitFor } from './poll.js';

// Helpers of the garbage collection tests: the engine on a test's database and storage, a run
// through the job service, and a full listing of what a store holds (rows and objects).

/**
 * The GC engine on these backends, with an artifact core of its own whose caches are off (the
 * test reads the database and storage, never a cache).
 */
export function gcDepsFor(db: Database, storage: StorageDriver, gracePeriodMinutes = 0): GcDeps {
  const artifacts = new ArtifactService({
    db,
    storage,
    manifestCache: createManifestCache(1024 * 1024),
    lookups: createCoherentLookupCache(createLocalLookupCache(10), noClusterBus),
    limits: { manifestMaxBytes: 4 * 1024 * 1024 },
  });
  return { db, storage, artifacts, gracePeriodMinutes };
}

/** Enqueues a GARBAGE_COLLECTION job and waits until it ends; returns the job and its log. */
export async function runGcJob(
  db: Database,
  payload: Record<string, unknown> = {},
  timeoutMs = 60_000,
): Promise<{ job: JobRow; log: string[] }> {
  const queued = await insertJob(db, {
    type: GC_JOB_TYPE,
    payload,
    maxAttempts: 3,
    deadlineMs: null,
    delayMs: 0,
  });
  const job = await waitFor(
    `GC job ${queued.id} to end`,
    async () => {
      const row = await findJob(db, queued.id);
      return row && ['succeeded', 'error', 'stopped'].includes(row.status) ? row : undefined;
    },
    timeoutMs,
  );
  // The outcome line is written with the status; a later flush may bring the last lines.
  const log = await waitFor('the outcome line of the GC job', async () => {
    const lines = (await readJobLog(db, job.id, 10_000)).map((l) => l.line);
    return lines.length > 0 ? lines : undefined;
  });
  return { job, log };
}

/** Everything a store holds, sorted: compared before and after a dry run. */
export interface StoreListing {
  blobs: string[];
  links: string[];
  manifests: string[];
  tags: string[];
  uploadSessions: string[];
  markers: string[];
  objects: string[];
}

export async function storeListing(db: Database, storage: StorageDriver): Promise<StoreListing> {
  const column = async (sql: string) => (await db.query<{ v: string }>(sql)).map((r) => r.v);
  const objects: string[] = [];
  for (const prefix of ['blobs', 'uploads']) {
    for await (const key of storage.list(prefix)) objects.push(key);
  }
  return {
    blobs: await column(`SELECT digest || ' ' || size AS v FROM blobs ORDER BY 1`),
    links: await column(
      `SELECT repository_id || ' ' || digest || ' ' || created_at AS v FROM repository_blobs ORDER BY 1`,
    ),
    manifests: await column(`SELECT repository_id || ' ' || digest AS v FROM manifests ORDER BY 1`),
    tags: await column(`SELECT repository_id || ' ' || name || ' ' || manifest_id AS v FROM tags ORDER BY 1`),
    uploadSessions: await column(`SELECT id::text AS v FROM upload_sessions ORDER BY 1`),
    markers: await column(`SELECT digest AS v FROM gc_doomed_blobs ORDER BY 1`),
    objects: objects.sort(),
  };
}

/** The digests of the blob rows. */
export async function blobDigests(db: Database): Promise<string[]> {
  return (await db.query<{ digest: string }>('SELECT digest FROM blobs ORDER BY digest')).map(
    (r) => r.digest,
  );
}

/** Makes rows look older than a grace period (the test cannot wait hours). */
export async function ageRows(db: Database, minutes: number): Promise<void> {
  for (const table of ['blobs', 'repository_blobs', 'manifests', 'upload_sessions']) {
    const column = table === 'upload_sessions' ? 'updated_at' : 'created_at';
    await db.query(`UPDATE ${table} SET ${column} = ${column} - $1::int * interval '1 minute'`, [minutes]);
  }
}
