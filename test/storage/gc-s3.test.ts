import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/domain/digest.js';
import { fsck } from '../../src/services/fsck-service.js';
import { runGc } from '../../src/services/gc/index.js';
import { blobKey, digestFromBlobKey } from '../../src/storage/paths.js';
import type { Backends } from '../../src/wharf.js';
import { blobDigests, gcDepsFor, runGcJob } from '../helpers/gc.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { digestOf, expectStatus, OCI_MANIFEST, OciClient, uniqueRepo } from '../helpers/oci-client.js';
import { testDatabaseUrl } from '../helpers/postgres.js';
import { startS3Server, type S3ServerHandle } from '../helpers/s3-server.js';

// Garbage collection on the S3 driver (s3rver): the objects it deletes are those nothing
// references, listed from the bucket itself; a dry run deletes none; fsck finds the bucket clean.

describe('garbage collection on S3', () => {
  let s3: S3ServerHandle;
  let wharf: InProcessWharf;
  let backends: Backends;
  let client: OciClient;

  beforeAll(async () => {
    s3 = await startS3Server();
    // PostgreSQL, so that the test's own connection sees the server's rows (an embedded database
    // is one process's: the test could not open it beside the server).
    const databaseUrl = await testDatabaseUrl();
    wharf = await startInProcessWharf(
      {
        gc: { grace_period_minutes: 0 },
        storage: {
          s3: {
            endpoint: s3.endpoint,
            bucket: s3.bucket,
            access_key: s3.accessKey,
            secret_key: s3.secretKey,
            path_style: true,
            root_directory: 'registry',
          },
        },
      },
      { projects: ['test'], databaseUrl },
    );
    backends = await wharf.openBackends();
    client = new OciClient(wharf.url, wharf.adminAuth);
  });

  afterAll(async () => {
    await backends?.close();
    await wharf?.close();
    await s3?.stop();
  });

  async function objectDigests(): Promise<string[]> {
    const digests: string[] = [];
    for await (const key of backends.storage.list('blobs')) {
      const digest = digestFromBlobKey(key);
      if (digest) digests.push(digest);
    }
    return digests.sort();
  }

  it('deletes from the bucket exactly the objects nothing references', async () => {
    const repo = uniqueRepo('gc-s3');
    const kept = await client.pushImage(repo, 'v1', { layers: 2 });
    const dropped = await client.pushImage(repo, 'v2', { layers: 2 });
    await expectStatus(await client.request('DELETE', `/v2/${repo}/manifests/${dropped.digest}`), 202);
    const loose = randomBytes(2048);
    await client.pushBlob(repo, loose);
    const stray = parseDigest(digestOf(randomBytes(16)));
    if (!stray.ok) throw new Error('bad digest');
    await backends.storage.write(blobKey(stray.digest), randomBytes(77));
    const before = await objectDigests();

    const dry = await runGc(
      gcDepsFor(backends.db, backends.storage),
      { deleteUntagged: false, dryRun: true, workers: 2 },
      { holder: `s3 dry ${randomUUID()}` },
    );
    expect(await objectDigests()).toEqual(before);
    const droppedBytes =
      dropped.bytes.length + dropped.config.size + dropped.layers.reduce((sum, l) => sum + l.size, 0);
    expect(dry).toMatchObject({
      blobsDeleted: 5,
      orphansRemoved: 1,
      bytesFreed: droppedBytes + loose.length + 77,
    });

    const { job, log } = await runGcJob(backends.db, { workers: 3 });
    expect(job.status).toBe('succeeded');
    expect(log.at(-1)).toMatch(/^deleted 5 blobs \(.*\) and 0 manifests; purged 1 orphan object/);
    const rows = await blobDigests(backends.db);
    expect(await objectDigests()).toEqual(rows);
    for (const digest of [kept.digest, kept.config.digest, ...kept.layers.map((l) => l.digest)]) {
      expect(rows).toContain(digest);
    }
    for (const digest of [dropped.digest, dropped.config.digest, digestOf(loose), stray.digest.value]) {
      expect(rows).not.toContain(digest);
    }
    const pulled = await client.request('GET', `/v2/${repo}/manifests/v1`, {
      headers: { accept: OCI_MANIFEST },
    });
    await expectStatus(pulled, 200);
    expect((await fsck(backends.db, backends.storage, { repair: false, graceMs: 0 })).problems).toEqual([]);
  });
});
