import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/domain/digest.js';
import type { Backends } from '../../src/wharf.js';
import { holdBlobExclusive } from '../../src/metadata/blob-guard.js';
import { doomBlob } from '../../src/metadata/gc-queries.js';
import { acquireGcLease, releaseGcLease } from '../../src/metadata/gc-lease-table.js';
import { fsck } from '../../src/services/fsck-service.js';
import { GcAlreadyRunningError, runGc, type GcParameters } from '../../src/services/gc/index.js';
import { blobKey } from '../../src/storage/paths.js';
import { ageRows, blobDigests, gcDepsFor, runGcJob, storeListing } from '../helpers/gc.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import {
  digestOf,
  expectStatus,
  imageManifest,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  OciClient,
  uniqueRepo,
  type Descriptor,
} from '../helpers/oci-client.js';

// The garbage collection engine on an in-process Wharf (the project's database, memory storage): what
// each step deletes, counted exactly; the dry run; the grace period; abandoned uploads and
// orphan objects; the markers a killed run leaves; a stop mid-run; the job type and the lease.
// Every test starts from a collected store, so the garbage it makes is all there is.

let wharf: InProcessWharf;
let backends: Backends;
let client: OciClient;

const PARAMS: GcParameters = { deleteUntagged: false, dryRun: false, workers: 2 };

function gc(params: Partial<GcParameters> = {}, grace = 0) {
  return runGc(
    gcDepsFor(backends.db, backends.storage, grace),
    { ...PARAMS, ...params },
    {
      holder: `test ${randomUUID()}`,
    },
  );
}

async function clean(): Promise<void> {
  expect((await fsck(backends.db, backends.storage, { repair: false, graceMs: 0 })).problems).toEqual([]);
}

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
  await gc({ deleteUntagged: true });
});

interface Blob {
  digest: string;
  size: number;
}

async function pushBlob(
  repo: string,
  bytes: Buffer = randomBytes(300 + Math.floor(Math.random() * 700)),
): Promise<Blob & { bytes: Buffer }> {
  return { digest: await client.pushBlob(repo, bytes), size: bytes.length, bytes };
}

function descriptor(blob: Blob, mediaType = OCI_LAYER): Descriptor {
  return { mediaType, digest: blob.digest, size: blob.size };
}

/** Pushes a manifest of the given config and layers (all pushed already); returns it as a blob. */
async function pushManifest(repo: string, reference: string, config: Blob, layers: Blob[]): Promise<Blob> {
  const bytes = imageManifest({
    mediaType: OCI_MANIFEST,
    config: descriptor(config, OCI_CONFIG),
    layers: layers.map((l) => descriptor(l)),
    annotations: { nonce: randomUUID() },
  });
  return { digest: await client.putManifest(repo, reference, bytes, OCI_MANIFEST), size: bytes.length };
}

const bytesOf = (blobs: Blob[]) => blobs.reduce((sum, b) => sum + b.size, 0);
const digestsOf = (blobs: Blob[]) => blobs.map((b) => b.digest).sort();

describe('what a run deletes', () => {
  it('frees exactly what nothing references, counted in blobs, bytes and manifests', async () => {
    const [a, b] = [uniqueRepo('gc-a'), uniqueRepo('gc-b')];
    const before = await blobDigests(backends.db);
    const shared = await pushBlob(a);
    await pushBlob(b, shared.bytes);
    const [a1, a2, b1, x1, ca1, ca2, cb1] = [
      await pushBlob(a),
      await pushBlob(a),
      await pushBlob(b),
      await pushBlob(a),
      await pushBlob(a),
      await pushBlob(a),
      await pushBlob(b),
    ] as [Blob, Blob, Blob, Blob, Blob, Blob, Blob];
    const loose = await pushBlob(b);
    const image1 = await pushManifest(a, 'v1', ca1, [shared, a1]);
    const image2 = await pushManifest(a, 'v2', ca2, [shared, a2]);
    const image3 = await pushManifest(b, 'v1', cb1, [shared, b1]);
    // Pushed by digest: an artifact without a tag.
    const m4Bytes = imageManifest({
      mediaType: OCI_MANIFEST,
      config: descriptor(ca2, OCI_CONFIG),
      layers: [descriptor(x1)],
    });
    const m4: Blob = { digest: digestOf(m4Bytes), size: m4Bytes.length };
    await client.putManifest(a, m4.digest, m4Bytes, OCI_MANIFEST);
    await expectStatus(await client.request('DELETE', `/v2/${a}/manifests/${image1.digest}`), 202);

    const first = await gc();
    expect(first).toEqual({
      dryRun: false,
      manifestsDeleted: 0,
      linksRemoved: 3, // a: ca1, a1; b: the loose blob (image1's own link went with it)
      blobsDeleted: 4,
      bytesFreed: bytesOf([image1, ca1, a1, loose]),
      uploadSessionsPurged: 0,
      orphansRemoved: 0,
    });
    const second = await gc({ deleteUntagged: true });
    expect(second).toMatchObject({
      manifestsDeleted: 1,
      linksRemoved: 1,
      blobsDeleted: 2,
      bytesFreed: bytesOf([m4, x1]),
    });
    const kept = [shared, a2, ca2, image2, b1, cb1, image3];
    expect(await blobDigests(backends.db)).toEqual([...before, ...digestsOf(kept)].sort());
    for (const gone of [image1, ca1, a1, loose, m4, x1]) {
      const parsed = parseDigest(gone.digest);
      expect(parsed.ok && (await backends.storage.stat(blobKey(parsed.digest)))).toBeFalsy();
    }
    // What is left pulls, byte for byte.
    for (const [repo, image] of [
      [a, image2],
      [b, image3],
    ] as const) {
      const res = await client.request('GET', `/v2/${repo}/manifests/${image.digest}`, {
        headers: { accept: OCI_MANIFEST },
      });
      await expectStatus(res, 200);
      expect(digestOf(Buffer.from(await res.arrayBuffer()))).toBe(image.digest);
    }
    const layer = await client.request('GET', `/v2/${b}/blobs/${shared.digest}`);
    await expectStatus(layer, 200);
    expect(digestOf(Buffer.from(await layer.arrayBuffer()))).toBe(shared.digest);
    await clean();
  });

  it('a dry run changes nothing and counts exactly what the real run then deletes', async () => {
    const repo = uniqueRepo('gc-dry');
    const [config, layer, other] = [await pushBlob(repo), await pushBlob(repo), await pushBlob(repo)];
    const image = await pushManifest(repo, 'v1', config, [layer]);
    await pushManifest(repo, 'v2', config, [other]);
    await expectStatus(await client.request('DELETE', `/v2/${repo}/manifests/v2`), 202);
    await pushBlob(repo);
    const untaggedBytes = imageManifest({
      mediaType: OCI_MANIFEST,
      config: descriptor(config, OCI_CONFIG),
      layers: [descriptor(layer)],
    });
    await client.putManifest(repo, digestOf(untaggedBytes), untaggedBytes, OCI_MANIFEST);
    await backends.storage.write(blobKey(parseDigestOrThrow(digestOf(randomBytes(32)))), randomBytes(99));
    await backends.storage.write(`uploads/${randomUUID()}/data`, randomBytes(10));
    const session = await client.startUpload(repo);
    await expectStatus(
      await client.request('PATCH', session, {
        headers: { 'content-type': 'application/octet-stream' },
        body: randomBytes(64),
      }),
      202,
    );

    const listing = await storeListing(backends.db, backends.storage);
    const dry = await gc({ dryRun: true, deleteUntagged: true });
    expect(await storeListing(backends.db, backends.storage)).toEqual(listing);
    const real = await gc({ deleteUntagged: true });
    expect({ ...real, dryRun: true }).toEqual(dry);
    // v2's manifest (untagged by the tag delete) and the one pushed by digest; their own bytes,
    // `other` and the loose blob; the stray blob object and upload directory; the open session.
    expect(real).toMatchObject({
      manifestsDeleted: 2,
      blobsDeleted: 4,
      uploadSessionsPurged: 1,
      orphansRemoved: 2,
    });
    const pulled = await client.request('GET', `/v2/${repo}/manifests/v1`, {
      headers: { accept: OCI_MANIFEST },
    });
    await expectStatus(pulled, 200);
    expect(pulled.headers.get('docker-content-digest')).toBe(image.digest);
    await clean();
  });
});

function parseDigestOrThrow(value: string) {
  const parsed = parseDigest(value);
  if (!parsed.ok) throw new Error(`not a digest: ${value}`);
  return parsed.digest;
}

describe('the grace period', () => {
  it('protects a fresh upload, a link made again and a fresh session; collects what is older', async () => {
    const repo = uniqueRepo('gc-grace');
    const [config, layer] = [await pushBlob(repo), await pushBlob(repo)];
    const image = await pushManifest(repo, 'v1', config, [layer]);
    await expectStatus(await client.request('DELETE', `/v2/${repo}/manifests/${image.digest}`), 202);
    const oldLoose = await pushBlob(repo);
    const relinkedBytes = randomBytes(400);
    const relinked = await pushBlob(repo, relinkedBytes);
    await client.startUpload(repo);
    await ageRows(backends.db, 180);
    // After the ageing: a new blob, the same bytes pushed again (the link counts as new), a session.
    const fresh = await pushBlob(repo);
    await pushBlob(repo, relinkedBytes);
    await client.startUpload(repo);

    const summary = await gc({}, 120);
    expect(summary).toMatchObject({
      blobsDeleted: 4,
      bytesFreed: bytesOf([image, config, layer, oldLoose]),
      uploadSessionsPurged: 1,
    });
    const left = await blobDigests(backends.db);
    expect(left).toEqual(expect.arrayContaining([fresh.digest, relinked.digest]));
    expect(left).not.toContain(oldLoose.digest);
    expect((await backends.db.query('SELECT 1 FROM upload_sessions')).length).toBe(1);
  });
});

describe('runs that end early', () => {
  it('a run finishes the deletions of a run killed between its two phases, and keeps a blob pushed again', async () => {
    const repo = uniqueRepo('gc-marker');
    const [doomed, restored] = [await pushBlob(repo), await pushBlob(repo)];
    // What a run killed after phase A leaves: no row (nor link), a marker, the bytes.
    for (const blob of [doomed, restored]) {
      await backends.db.transaction(async (tx) => {
        await holdBlobExclusive(tx, blob.digest);
        await tx.query('DELETE FROM repository_blobs WHERE digest = $1', [blob.digest]);
        expect(await doomBlob(tx, blob.digest, new Date(Date.now() + 60_000))).toBe(blob.size);
      });
    }
    const again = await client.request('GET', `/v2/${repo}/blobs/${restored.digest}`);
    expect(again.status).toBe(404);
    // A push of the same bytes while the marker is there: its row wins over the marker.
    await pushBlob(repo, restored.bytes);

    // A grace period, so that the blob pushed again (linked, in no manifest) is not collected anew.
    const summary = await gc({}, 60);
    expect(summary).toMatchObject({ blobsDeleted: 1, bytesFreed: doomed.size });
    expect(await backends.db.query('SELECT digest FROM gc_doomed_blobs')).toEqual([]);
    expect(await backends.storage.stat(blobKey(parseDigestOrThrow(doomed.digest)))).toBeNull();
    const pulled = await client.request('GET', `/v2/${repo}/blobs/${restored.digest}`);
    await expectStatus(pulled, 200);
    expect(digestOf(Buffer.from(await pulled.arrayBuffer()))).toBe(restored.digest);
    await clean();
  });

  it('a stop mid-run leaves a clean store, and the next run deletes the rest', async () => {
    const repo = uniqueRepo('gc-stop');
    const loose = [];
    for (let i = 0; i < 12; i++) loose.push(await pushBlob(repo));
    const stop = new AbortController();
    let deletes = 0;
    // Storage that stops the run at its third blob deletion (as the job service's stop would).
    const storage = new Proxy(backends.storage, {
      get(target, property) {
        if (property === 'delete') {
          return async (key: string) => {
            await target.delete(key);
            if (++deletes === 3) stop.abort(new Error('stopped by the test'));
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await expect(
      runGc(
        gcDepsFor(backends.db, storage),
        { ...PARAMS, workers: 1 },
        { holder: 'stop test', signal: stop.signal },
      ),
    ).rejects.toThrow('stopped by the test');
    const rows = await blobDigests(backends.db);
    const left = loose.filter((b) => rows.includes(b.digest));
    expect(left).toHaveLength(9);
    await clean();
    expect(await gc()).toMatchObject({ blobsDeleted: 9, bytesFreed: bytesOf(left) });
    await clean();
  });
});

describe('the job', () => {
  it('runs through the job service, logging its progress and its summary', async () => {
    const repo = uniqueRepo('gc-job');
    const loose = await pushBlob(repo);
    const { job, log } = await runGcJob(backends.db, { delete_untagged: true, workers: 3 });
    expect(job.status).toBe('succeeded');
    expect(log.join('\n')).toContain('blobs eligible for deletion');
    expect(log.at(-1)).toBe(
      `deleted 1 blob (${loose.size} bytes) and 0 manifests; unlinked 1 unused layer link`,
    );
  });

  it('one run at a time: a run that finds another holding the lease ends at once, saying so', async () => {
    expect(await acquireGcLease(backends.db, 'the other run', 60_000)).toBeNull();
    try {
      const { job, log } = await runGcJob(backends.db, {});
      expect(job.status).toBe('error');
      expect(log.join('\n')).toContain('another garbage collection is running (the other run');
      await expect(gc()).rejects.toBeInstanceOf(GcAlreadyRunningError);
    } finally {
      await releaseGcLease(backends.db, 'the other run');
    }
  });

  it('refuses parameters out of range', async () => {
    const { job, log } = await runGcJob(backends.db, { workers: 9 });
    expect(job.status).toBe('error');
    expect(log.join('\n')).toContain('workers must be an integer from 1 to 5');
  });
});
