import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/domain/digest.js';
import { holdBlobExclusive, holdBlobsShared } from '../../src/metadata/blob-guard.js';
import type { Queryable } from '../../src/metadata/database.js';
import { insertBlob, linkBlob } from '../../src/metadata/blobs-table.js';
import { deleteStaleLink, doomBlob, dropDoomedMarker } from '../../src/metadata/gc-queries.js';
import { setTag, upsertManifest } from '../../src/metadata/manifests-table.js';
import { fsck } from '../../src/services/fsck-service.js';
import { runGc, type GcSummary } from '../../src/services/gc/index.js';
import { blobKey } from '../../src/storage/paths.js';
import type { Backends } from '../../src/wharf.js';
import { gcDepsFor } from '../helpers/gc.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import {
  digestOf,
  expectOciError,
  expectStatus,
  imageManifest,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  OciClient,
  uniqueRepo,
} from '../helpers/oci-client.js';
import { waitFor } from '../helpers/poll.js';

// The blob protocol between GC and writers, interleaved step by step (docs/lifecycle.md): a test
// transaction takes one side's lock and holds it while the other side runs into it, and the test
// releases it only once the other side is seen waiting (pg_locks). Whichever side goes first, a
// writer either keeps the blob or is told it is unknown (and uploads it again), and no committed
// row ever names bytes that are gone. PostgreSQL only: the embedded database runs one
// transaction at a time, so there the two sides cannot overlap at all.

const onPostgres = process.env.WHARF_TEST_DATABASE === 'postgres';

let wharf: InProcessWharf;
let backends: Backends;
let client: OciClient;

/**
 * A transaction the test holds open: `work` runs first, then it waits until release(), whose
 * `finish` runs in the same transaction before it commits.
 */
function heldTransaction(work: (tx: Queryable) => Promise<void>): {
  ready: Promise<void>;
  release(finish?: (tx: Queryable) => Promise<void>): Promise<void>;
} {
  let release!: (finish: (tx: Queryable) => Promise<void>) => void;
  const released = new Promise<(tx: Queryable) => Promise<void>>((r) => (release = r));
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const done = backends.db.transaction(async (tx) => {
    await work(tx);
    ready();
    await (
      await released
    )(tx);
  });
  return {
    ready: Promise.race([isReady, done]),
    release: async (finish = async () => undefined) => {
      release(finish);
      await done;
    },
  };
}

/** Waits until some session waits for an advisory lock (the other side ran into the held one). */
async function someoneWaits(): Promise<void> {
  await waitFor('a session waiting for a blob lock', async () => {
    const rows = await backends.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`,
    );
    return (rows[0]?.n ?? 0) > 0;
  });
}

async function repositoryId(name: string): Promise<number> {
  const rows = await backends.db.query<{ id: string }>('SELECT id FROM repositories WHERE name = $1', [name]);
  return Number(rows[0]?.id);
}

const inAMinute = () => new Date(Date.now() + 60_000);

function gc(): Promise<GcSummary> {
  return runGc(
    gcDepsFor(backends.db, backends.storage),
    { deleteUntagged: true, dryRun: false, workers: 1 },
    { holder: `protocol ${randomUUID()}` },
  );
}

async function clean(): Promise<void> {
  expect((await fsck(backends.db, backends.storage, { repair: false, graceMs: 0 })).problems).toEqual([]);
}

function manifestOf(config: { digest: string; size: number }, layer: { digest: string; size: number }) {
  return imageManifest({
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, ...config },
    layers: [{ mediaType: OCI_LAYER, ...layer }],
    annotations: { nonce: randomUUID() },
  });
}

describe.skipIf(!onPostgres)('GC and writers interleaved on one blob', () => {
  beforeAll(async () => {
    wharf = await startInProcessWharf({ gc: { grace_period_minutes: 0 } }, { projects: ['test'] });
    backends = await wharf.openBackends();
    client = new OciClient(wharf.url, wharf.adminAuth);
  });

  afterAll(async () => {
    await backends?.close();
    await wharf?.close();
  });

  beforeEach(async () => {
    await gc();
  });

  it('GC first: a manifest PUT waits for the link removal, then gets MANIFEST_BLOB_UNKNOWN; pushed again, it works', async () => {
    const repo = uniqueRepo('proto-put');
    const [configBytes, layerBytes] = [randomBytes(100), randomBytes(700)];
    const config = { digest: await client.pushBlob(repo, configBytes), size: configBytes.length };
    const layer = { digest: await client.pushBlob(repo, layerBytes), size: layerBytes.length };
    const link = { repositoryId: await repositoryId(repo), digest: layer.digest };
    const held = heldTransaction(async (tx) => {
      await holdBlobExclusive(tx, layer.digest);
      expect(await deleteStaleLink(tx, link, inAMinute())).toBe(true);
    });
    await held.ready;
    const bytes = manifestOf(config, layer);
    const put = client.request('PUT', `/v2/${repo}/manifests/v1`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: bytes,
    });
    await someoneWaits();
    await held.release();
    await expectOciError(await put, 400, 'MANIFEST_BLOB_UNKNOWN');
    await client.pushBlob(repo, layerBytes);
    expect(await client.putManifest(repo, 'v1', bytes, OCI_MANIFEST)).toBe(digestOf(bytes));
    await clean();
  });

  it('writer first: GC waits for a push holding the blobs, then sees its manifest and keeps them', async () => {
    const repo = uniqueRepo('proto-keep');
    const [configBytes, layerBytes] = [randomBytes(100), randomBytes(700)];
    const config = { digest: await client.pushBlob(repo, configBytes), size: configBytes.length };
    const layer = { digest: await client.pushBlob(repo, layerBytes), size: layerBytes.length };
    const repoId = await repositoryId(repo);
    const bytes = manifestOf(config, layer);
    const digest = digestOf(bytes);
    const parsed = parseDigest(digest);
    if (!parsed.ok) throw new Error('bad digest');
    await backends.storage.write(blobKey(parsed.digest), bytes);
    // A manifest PUT's transaction, as manifest-put.ts does it: the blobs' locks shared first...
    const held = heldTransaction(async (tx) => {
      await holdBlobsShared(tx, [digest, config.digest, layer.digest]);
    });
    await held.ready;
    // ...GC (grace 0: every link of this repository is old enough) runs into them and waits...
    const collecting = gc();
    await someoneWaits();
    // ...then the PUT's rows, committed before GC's recheck.
    await held.release(async (tx) => {
      await insertBlob(tx, digest, bytes.length);
      await linkBlob(tx, repoId, digest);
      const row = await upsertManifest(tx, {
        repositoryId: repoId,
        digest,
        mediaType: OCI_MANIFEST,
        artifactType: null,
        size: bytes.length,
        subjectDigest: null,
        annotations: null,
        references: [
          { digest: config.digest, kind: 'config' },
          { digest: layer.digest, kind: 'layer' },
        ],
      });
      await setTag(tx, repoId, 'v1', row.id);
    });
    expect(await collecting).toMatchObject({ linksRemoved: 0, blobsDeleted: 0, bytesFreed: 0 });
    const pulled = await client.request('GET', `/v2/${repo}/manifests/v1`, {
      headers: { accept: OCI_MANIFEST },
    });
    await expectStatus(pulled, 200);
    for (const blob of [config, layer]) {
      const res = await client.request('GET', `/v2/${repo}/blobs/${blob.digest}`);
      await expectStatus(res, 200);
      expect(digestOf(Buffer.from(await res.arrayBuffer()))).toBe(blob.digest);
    }
    await clean();
  });

  it('GC first: an upload commit waits for the bytes deletion, then stores the bytes again', async () => {
    const repo = uniqueRepo('proto-upload');
    const bytes = randomBytes(900);
    const digest = await client.pushBlob(repo, bytes);
    const parsed = parseDigest(digest);
    if (!parsed.ok) throw new Error('bad digest');
    // Phase A, committed: the row is a marker now.
    await backends.db.transaction(async (tx) => {
      await holdBlobExclusive(tx, digest);
      await tx.query('DELETE FROM repository_blobs WHERE digest = $1', [digest]);
      expect(await doomBlob(tx, digest, inAMinute())).toBe(bytes.length);
    });
    // Phase B, held open: the bytes are gone, the marker not yet.
    const held = heldTransaction(async (tx) => {
      await holdBlobExclusive(tx, digest);
      await backends.storage.delete(blobKey(parsed.digest));
      await dropDoomedMarker(tx, digest);
    });
    await held.ready;
    const push = client.pushBlob(repo, bytes);
    await someoneWaits();
    await held.release();
    expect(await push).toBe(digest);
    const pulled = await client.request('GET', `/v2/${repo}/blobs/${digest}`);
    await expectStatus(pulled, 200);
    expect(digestOf(Buffer.from(await pulled.arrayBuffer()))).toBe(digest);
    await clean();
  });

  it('GC first: a mount waits for the source link removal, then is refused (an upload session instead)', async () => {
    const [from, to] = [uniqueRepo('proto-from'), uniqueRepo('proto-to')];
    const digest = await client.pushBlob(from, randomBytes(500));
    const link = { repositoryId: await repositoryId(from), digest };
    const held = heldTransaction(async (tx) => {
      await holdBlobExclusive(tx, digest);
      expect(await deleteStaleLink(tx, link, inAMinute())).toBe(true);
    });
    await held.ready;
    const mount = client.request('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`);
    await someoneWaits();
    await held.release();
    expect((await mount).status).toBe(202);
    expect((await client.request('HEAD', `/v2/${to}/blobs/${digest}`)).status).toBe(404);
    await clean();
  });
});
