import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresDatabase } from '../../src/metadata/postgres-database.js';
import type { Database } from '../../src/metadata/database.js';
import { findJob, insertJob } from '../../src/metadata/jobs-table.js';
import { fsck } from '../../src/services/fsck-service.js';
import { GC_JOB_TYPE } from '../../src/services/gc/index.js';
import { FilesystemDriver } from '../../src/storage/filesystem-driver.js';
import { blobKey, digestFromBlobKey } from '../../src/storage/paths.js';
import { parseDigest } from '../../src/domain/digest.js';
import { blobDigests } from '../helpers/gc.js';
import { expectStatus, OCI_MANIFEST, OciClient } from '../helpers/oci-client.js';
import { waitFor } from '../helpers/poll.js';
import { testDatabaseUrl } from '../helpers/postgres.js';
import { adminAuth, startWharf, type WharfHandle } from '../helpers/server.js';

// kill -9 of the instance running a garbage collection, in the middle of deleting blobs: the
// store stays clean (no row names missing bytes), and the job, taken over when its lease runs
// out, finishes the work on the restarted instance (the markers of the killed run included).
// PostgreSQL: the test reads the database while the server runs.

const GARBAGE = 2000;

describe.runIf(process.env.WHARF_TEST_DATABASE === 'postgres')('garbage collection killed mid-run', () => {
  let wharf: WharfHandle | undefined;
  let db: Database | undefined;

  afterAll(async () => {
    await db?.close();
    await wharf?.stop();
  }, 60_000);

  it('leaves a clean store, and the job finishes after the restart', async () => {
    const databaseUrl = await testDatabaseUrl();
    wharf = await startWharf({ databaseUrl, extraConfig: 'gc:\n  grace_period_minutes: 0' });
    db = await openPostgresDatabase({ connection: { connectionString: databaseUrl }, poolSize: 3 });
    const storage = new FilesystemDriver(join(wharf.dataDir, 'storage'));
    const client = new OciClient(wharf.url, adminAuth(wharf));
    const images = [
      await client.pushImage('test/kept', 'v1', { layers: 3 }),
      await client.pushImage('test/kept', 'v2'),
    ];
    const referenced = await blobDigests(db);

    // Garbage: blobs with bytes and a row and nothing referencing them (as deleted artifacts leave).
    const garbage: { digest: string; size: number }[] = [];
    for (let i = 0; i < GARBAGE; i++) {
      const bytes = randomBytes(64);
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const parsed = parseDigest(digest);
      if (!parsed.ok) throw new Error('bad digest');
      await storage.write(blobKey(parsed.digest), bytes);
      garbage.push({ digest, size: bytes.length });
    }
    await db.query('INSERT INTO blobs (digest, size) SELECT d, 64 FROM unnest($1::text[]) AS d', [
      garbage.map((g) => g.digest),
    ]);

    const job = await insertJob(db, {
      type: GC_JOB_TYPE,
      payload: { workers: 1 },
      maxAttempts: 3,
      deadlineMs: null,
      delayMs: 0,
    });
    const total = referenced.length + GARBAGE;
    await waitFor(
      'the run to be deleting blobs',
      async () => (await blobDigests(db as Database)).length < total - 50,
      120_000,
      20,
    );
    await wharf.kill();
    expect(wharf.exitStatus()?.signal).toBe('SIGKILL');
    expect((await findJob(db, job.id))?.status).toBe('running');
    const left = await blobDigests(db);
    expect(left.length).toBeGreaterThan(referenced.length); // killed before the end

    // Clean at this instant: no row without bytes, no artifact missing anything. (Bytes whose row
    // went are garbage the next run deletes: fsck may name them, never a missing blob.)
    const midway = await fsck(db, storage, { repair: false, graceMs: 0 });
    expect(midway.problems.filter((p) => p.kind !== 'unreferenced-blob')).toEqual([]);

    await wharf.restart();
    const finished = await waitFor(
      'the GC job to finish on the restarted instance',
      async () => {
        const row = await findJob(db as Database, job.id);
        return row && row.status !== 'running' && row.status !== 'pending' ? row : undefined;
      },
      180_000,
      250,
    );
    expect(finished.status).toBe('succeeded');
    expect(finished.attempts).toBeGreaterThanOrEqual(2);
    expect(await blobDigests(db)).toEqual(referenced);
    const objects: string[] = [];
    for await (const key of storage.list('blobs')) {
      const digest = digestFromBlobKey(key);
      if (digest) objects.push(digest);
    }
    expect(objects.sort()).toEqual(referenced);
    expect(await db.query('SELECT digest FROM gc_doomed_blobs')).toEqual([]);
    expect((await fsck(db, storage, { repair: false, graceMs: 0 })).problems).toEqual([]);
    for (const image of images) {
      const res = await client.request('GET', `/v2/test/kept/manifests/${image.digest}`, {
        headers: { accept: OCI_MANIFEST },
      });
      await expectStatus(res, 200);
    }
  });
});
