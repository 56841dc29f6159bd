import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disabledLookupCache } from '../../cluster/lookup-cache.js';
import { createManifestCache } from '../../cluster/manifest-cache.js';
import { RegistryError } from '../../domain/errors.js';
import type { Database } from '../../metadata/database.js';
import { openMigratedMemoryDatabase } from '../../../test/helpers/memory-database.js';
import type { ByteRange } from '../../storage/driver.js';
import { MemoryDriver } from '../../storage/memory-driver.js';
import { UploadService } from './upload-service.js';

/** A memory driver that counts the bytes read back from upload data. */
class CountingDriver extends MemoryDriver {
  uploadBytesRead = 0;
  override async read(key: string, range?: ByteRange): Promise<Readable> {
    const stream = await super.read(key, range);
    if (key.startsWith('uploads/')) stream.on('data', (c: Buffer) => (this.uploadBytesRead += c.length));
    return stream;
  }
}

const digestOf = (algorithm: 'sha256' | 'sha512', data: Buffer) =>
  `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;

describe('UploadService hashing: finishing never re-reads bytes hashed on arrival', () => {
  let db: Database;
  let storage: CountingDriver;
  let uploads: UploadService;
  const repo = 'unit/uploads';

  // Opening PGlite alone can take over ten seconds on a loaded machine.
  beforeAll(async () => {
    db = await openMigratedMemoryDatabase();
    // Repositories live in projects; the test's repository is unit/uploads.
    await db.query("INSERT INTO projects (name) VALUES ('unit')");
    storage = new CountingDriver();
    uploads = new UploadService({
      db,
      storage,
      manifestCache: createManifestCache(1024),
      lookups: disabledLookupCache,
      limits: { manifestMaxBytes: 4 * 1024 * 1024 },
    });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  async function chunked(data: Buffer, cuts: number[], algorithm?: 'sha512') {
    const session = await uploads.start(repo, algorithm);
    let start = 0;
    for (const end of [...cuts, data.length]) {
      const body = data.subarray(start, end);
      await uploads.append(repo, session.id, {
        body: Readable.from([body]),
        range: { start, end: end - 1 },
        length: body.length,
      });
      start = end;
    }
    return session.id;
  }

  it('a single streamed PATCH (native hash) finishes without reading back', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 5);
    const session = await uploads.start(repo);
    await uploads.append(repo, session.id, {
      body: Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
    });
    storage.uploadBytesRead = 0;
    const digest = await uploads.finish(repo, session.id, digestOf('sha256', data));
    expect(digest.value).toBe(digestOf('sha256', data));
    expect(storage.uploadBytesRead).toBe(0);
  });

  it('chunks with Content-Range (resumable state in the row) finish without reading back', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const id = await chunked(data, [1_000_000, 2_000_000]);
    storage.uploadBytesRead = 0;
    await uploads.finish(repo, id, digestOf('sha256', data));
    expect(storage.uploadBytesRead).toBe(0);
  });

  it('sha512 chosen with digest-algorithm is hashed on arrival too', async () => {
    const data = randomBytes(1024 * 1024);
    const id = await chunked(data, [300_000], 'sha512');
    storage.uploadBytesRead = 0;
    const digest = await uploads.finish(repo, id, digestOf('sha512', data));
    expect(digest.algorithm).toBe('sha512');
    expect(storage.uploadBytesRead).toBe(0);
  });

  it('a streamed first part followed by a chunk rebuilds the state once, and is correct', async () => {
    const data = randomBytes(1024 * 1024);
    const session = await uploads.start(repo);
    await uploads.append(repo, session.id, { body: Readable.from([data.subarray(0, 400_000)]) });
    storage.uploadBytesRead = 0;
    await uploads.append(repo, session.id, {
      body: Readable.from([data.subarray(400_000)]),
      range: { start: 400_000, end: data.length - 1 },
    });
    expect(storage.uploadBytesRead).toBe(400_000);
    storage.uploadBytesRead = 0;
    await uploads.finish(repo, session.id, digestOf('sha256', data));
    expect(storage.uploadBytesRead).toBe(0);
  });

  it('a digest of another algorithm than the one hashed is verified by reading back once', async () => {
    const data = randomBytes(500_000);
    const id = await chunked(data, [100_000]);
    storage.uploadBytesRead = 0;
    const digest = await uploads.finish(repo, id, digestOf('sha512', data));
    expect(digest.value).toBe(digestOf('sha512', data));
    expect(storage.uploadBytesRead).toBe(data.length);
  });

  it('refuses a wrong digest and an out-of-order chunk with the spec codes', async () => {
    const data = randomBytes(10_000);
    const id = await chunked(data, [4_000]);
    await expect(uploads.finish(repo, id, digestOf('sha256', Buffer.from('other')))).rejects.toMatchObject({
      code: 'DIGEST_INVALID',
    });
    const gap = uploads.append(repo, id, {
      body: Readable.from([Buffer.from('x')]),
      range: { start: 20_000, end: 20_000 },
    });
    await expect(gap).rejects.toBeInstanceOf(RegistryError);
    await expect(gap).rejects.toMatchObject({ code: 'RANGE_INVALID' });
  });

  it('never commits stored bytes shorter than the offset (a racing writer cut them) as the blob', async () => {
    const data = randomBytes(200_000);
    const id = await chunked(data, [100_000]);
    // What a second writer at offset 100 000 whose body broke off leaves behind: the first
    // writer's bytes past that offset are gone, while the row (and its hash state) still counts them.
    const key = `uploads/${id}/data`;
    await storage.writeAt(key, 100_000, Readable.from([data.subarray(100_000, 100_010)]));
    await expect(uploads.finish(repo, id, digestOf('sha256', data))).rejects.toMatchObject({
      code: 'BLOB_UPLOAD_INVALID',
    });
    const blob = digestOf('sha256', data).slice('sha256:'.length);
    expect(await storage.stat(`blobs/sha256/${blob.slice(0, 2)}/${blob}/data`)).toBeNull();
  });
});
