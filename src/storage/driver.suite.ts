import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageNotFoundError, StorageRangeError, type StorageDriver } from './driver.js';

// One behavioural contract for every StorageDriver: each driver's test file calls this suite, so
// the drivers cannot drift apart and services tested against the memory driver hold on disk.

export interface DriverFixture {
  driver: StorageDriver;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

/** A byte stream of data in pieces of chunkSize, produced on demand (so backpressure applies). */
export function streamOf(data: Uint8Array, chunkSize = 64 * 1024): Readable {
  return Readable.from(pieces(data, chunkSize), { objectMode: false });
}

/** A stream that delivers the first `failAfter` bytes of data, then fails like a dropped connection. */
export function failingStream(data: Uint8Array, failAfter: number, chunkSize = 16 * 1024): Readable {
  async function* produce(): AsyncGenerator<Buffer> {
    yield* pieces(data.subarray(0, failAfter), chunkSize);
    throw new Error('body failed midway');
  }
  return Readable.from(produce(), { objectMode: false });
}

function* pieces(data: Uint8Array, chunkSize: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += chunkSize) {
    // A fresh copy each time, as a socket would deliver; a driver may keep what it is given.
    yield Buffer.from(data.subarray(i, i + chunkSize));
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export async function listAll(keys: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const key of keys) all.push(key);
  return all.sort();
}

const INVALID_KEYS = [
  '',
  '/abs',
  '../x',
  'a/../../etc/passwd',
  'a//b',
  'a/./b',
  'a/',
  '.',
  '..',
  // The filesystem driver keeps temporary files there; no key may reach them.
  '.tmp/x',
  'a\0b',
  'a\\b',
  'C:\\x',
  'a b',
  'x'.repeat(1025),
];

export function storageDriverSuite(name: string, makeDriver: () => Promise<DriverFixture>): void {
  describe(`storage driver contract: ${name}`, () => {
    let driver: StorageDriver;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ driver, cleanup } = await makeDriver());
    });

    afterEach(async () => {
      await cleanup();
    });

    async function content(key: string): Promise<Buffer> {
      return readAll(await driver.read(key));
    }

    it('has a name', () => {
      expect(driver.name).toBe(name);
    });

    describe('write, read and stat', () => {
      it('round-trips a small streamed body', async () => {
        const data = Buffer.from('hello, wharf');
        expect(await driver.write('objects/small', streamOf(data))).toBe(data.length);
        expect(await content('objects/small')).toEqual(data);
        const info = await driver.stat('objects/small');
        expect(info?.size).toBe(data.length);
        expect(info?.modifiedAt).toBeInstanceOf(Date);
        expect(Number.isNaN(info?.modifiedAt.getTime())).toBe(false);
      });

      it('round-trips a multi-MiB streamed body', async () => {
        const data = randomBytes(5 * MiB + 7);
        expect(await driver.write('objects/big', streamOf(data))).toBe(data.length);
        expect((await driver.stat('objects/big'))?.size).toBe(data.length);
        expect((await content('objects/big')).equals(data)).toBe(true);
      });

      it('writes Uint8Array bodies, including views into a larger buffer', async () => {
        const backing = randomBytes(4096);
        const view = new Uint8Array(backing.buffer, backing.byteOffset + 100, 1000);
        expect(await driver.write('objects/view', view)).toBe(1000);
        expect(await content('objects/view')).toEqual(backing.subarray(100, 1100));
        const whole = randomBytes(3 * MiB);
        expect(await driver.write('objects/whole', whole)).toBe(whole.length);
        expect((await content('objects/whole')).equals(whole)).toBe(true);
      });

      it('keeps what a Uint8Array held when written, not later changes to it', async () => {
        const data = Buffer.from('original');
        await driver.write('objects/copy', data);
        data.fill(0);
        expect((await content('objects/copy')).toString()).toBe('original');
      });

      it('stores empty objects', async () => {
        expect(await driver.write('objects/empty-stream', streamOf(new Uint8Array(0)))).toBe(0);
        expect(await driver.write('objects/empty-bytes', new Uint8Array(0))).toBe(0);
        for (const key of ['objects/empty-stream', 'objects/empty-bytes']) {
          expect((await driver.stat(key))?.size).toBe(0);
          expect(await content(key)).toEqual(Buffer.alloc(0));
        }
      });

      it('accepts keys at the top level and deeply nested', async () => {
        await driver.write('top', Buffer.from('t'));
        await driver.write('a/b/c/d/e/f/g', Buffer.from('deep'));
        expect((await content('top')).toString()).toBe('t');
        expect((await content('a/b/c/d/e/f/g')).toString()).toBe('deep');
      });

      it('overwrites, longer then shorter', async () => {
        await driver.write('objects/o', Buffer.from('first version, long'));
        await driver.write('objects/o', streamOf(Buffer.from('second')));
        expect((await content('objects/o')).toString()).toBe('second');
        expect((await driver.stat('objects/o'))?.size).toBe(6);
      });

      it('returns null from stat for missing keys and for prefixes', async () => {
        expect(await driver.stat('missing')).toBeNull();
        expect(await driver.stat('missing/deeper')).toBeNull();
        await driver.write('p/q', Buffer.from('x'));
        expect(await driver.stat('p')).toBeNull();
        // A path through an object is not an object either.
        expect(await driver.stat('p/q/r')).toBeNull();
      });

      it('throws StorageNotFoundError when reading missing keys and prefixes', async () => {
        await expect(driver.read('missing')).rejects.toBeInstanceOf(StorageNotFoundError);
        await expect(driver.read('missing', { offset: 0, length: 1 })).rejects.toBeInstanceOf(
          StorageNotFoundError,
        );
        await driver.write('p/q', Buffer.from('x'));
        await expect(driver.read('p')).rejects.toBeInstanceOf(StorageNotFoundError);
        await expect(driver.read('p/q/r')).rejects.toBeInstanceOf(StorageNotFoundError);
      });

      it('hands out streams that keep their bytes when the object is overwritten', async () => {
        const before = randomBytes(3 * MiB);
        await driver.write('objects/r', before);
        const stream = await driver.read('objects/r');
        await driver.write('objects/r', randomBytes(1000));
        expect((await readAll(stream)).equals(before)).toBe(true);
      });

      it('leaves one complete body when two writes race', async () => {
        const a = Buffer.alloc(2 * MiB, 'a');
        const b = Buffer.alloc(MiB, 'b');
        await Promise.all([
          driver.write('objects/race', streamOf(a)),
          driver.write('objects/race', streamOf(b)),
        ]);
        const result = await content('objects/race');
        expect(result.equals(a) || result.equals(b)).toBe(true);
      });
    });

    describe('atomic write', () => {
      it('keeps the previous object when the body fails midway', async () => {
        const previous = randomBytes(1000);
        await driver.write('atomic/obj', previous);
        const next = randomBytes(MiB);
        await expect(driver.write('atomic/obj', failingStream(next, 200 * 1024))).rejects.toThrow(
          'body failed midway',
        );
        expect(await content('atomic/obj')).toEqual(previous);
        expect((await driver.stat('atomic/obj'))?.size).toBe(previous.length);
        expect(await listAll(driver.list('atomic'))).toEqual(['atomic/obj']);
      });

      it('creates nothing when the body of a new key fails', async () => {
        await expect(driver.write('fresh/obj', failingStream(randomBytes(MiB), 100 * 1024))).rejects.toThrow(
          'body failed midway',
        );
        expect(await driver.stat('fresh/obj')).toBeNull();
        expect(await listAll(driver.list('fresh'))).toEqual([]);
      });

      it('creates nothing when the body fails before its first byte', async () => {
        await expect(driver.write('fresh/none', failingStream(new Uint8Array(0), 0))).rejects.toThrow(
          'body failed midway',
        );
        expect(await driver.stat('fresh/none')).toBeNull();
      });
    });

    describe('ranged reads', () => {
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

      beforeEach(async () => {
        await driver.write('ranged/obj', data);
      });

      async function ranged(offset: number, length?: number): Promise<Buffer> {
        return readAll(
          await driver.read('ranged/obj', length === undefined ? { offset } : { offset, length }),
        );
      }

      it('reads from an offset to the end', async () => {
        expect(await ranged(0)).toEqual(data);
        expect(await ranged(10)).toEqual(data.subarray(10));
        expect(await ranged(999)).toEqual(data.subarray(999));
      });

      it('reads offset and length', async () => {
        expect(await ranged(10, 20)).toEqual(data.subarray(10, 30));
        expect(await ranged(0, 1000)).toEqual(data);
        expect(await ranged(990, 10)).toEqual(data.subarray(990));
        expect(await ranged(0, 1)).toEqual(data.subarray(0, 1));
      });

      it('reads empty ranges, including at the very end', async () => {
        expect(await ranged(500, 0)).toEqual(Buffer.alloc(0));
        expect(await ranged(1000)).toEqual(Buffer.alloc(0));
        expect(await ranged(1000, 0)).toEqual(Buffer.alloc(0));
      });

      it('reads an empty object with an empty range', async () => {
        await driver.write('ranged/empty', new Uint8Array(0));
        expect(await readAll(await driver.read('ranged/empty', { offset: 0 }))).toEqual(Buffer.alloc(0));
        expect(await readAll(await driver.read('ranged/empty', { offset: 0, length: 0 }))).toEqual(
          Buffer.alloc(0),
        );
        await expect(driver.read('ranged/empty', { offset: 1 })).rejects.toBeInstanceOf(StorageRangeError);
      });

      it('rejects ranges beyond the end with StorageRangeError', async () => {
        await expect(driver.read('ranged/obj', { offset: 1001 })).rejects.toBeInstanceOf(StorageRangeError);
        await expect(driver.read('ranged/obj', { offset: 990, length: 11 })).rejects.toBeInstanceOf(
          StorageRangeError,
        );
        await expect(driver.read('ranged/obj', { offset: 1000, length: 1 })).rejects.toBeInstanceOf(
          StorageRangeError,
        );
      });

      it('rejects malformed ranges with StorageRangeError', async () => {
        for (const range of [
          { offset: -1 },
          { offset: 0, length: -1 },
          { offset: 1.5 },
          { offset: 0, length: 0.5 },
        ]) {
          await expect(driver.read('ranged/obj', range)).rejects.toBeInstanceOf(StorageRangeError);
        }
        await expect(driver.read('ranged/obj', { offset: Number.NaN })).rejects.toBeInstanceOf(
          StorageRangeError,
        );
      });

      it('reads ranges of a multi-MiB object across buffer boundaries', async () => {
        const big = randomBytes(3 * MiB + 5);
        await driver.write('ranged/big', streamOf(big));
        const offset = MiB - 3;
        const length = MiB + 10;
        const got = await readAll(await driver.read('ranged/big', { offset, length }));
        expect(got.equals(big.subarray(offset, offset + length))).toBe(true);
        const tail = await readAll(await driver.read('ranged/big', { offset: 2 * MiB + 1 }));
        expect(tail.equals(big.subarray(2 * MiB + 1))).toBe(true);
      });
    });

    describe('writeAt', () => {
      it('creates a missing object at offset 0 and appends in sequence', async () => {
        const parts = [randomBytes(100), randomBytes(70 * 1024), randomBytes(1)];
        let size = 0;
        for (const part of parts) {
          size = await driver.writeAt('up/data', size, streamOf(part));
        }
        const all = Buffer.concat(parts);
        expect(size).toBe(all.length);
        expect((await driver.stat('up/data'))?.size).toBe(all.length);
        expect((await content('up/data')).equals(all)).toBe(true);
      });

      it('streams multi-MiB bodies', async () => {
        const first = randomBytes(3 * MiB + 1);
        const second = randomBytes(2 * MiB);
        expect(await driver.writeAt('up/big', 0, streamOf(first))).toBe(first.length);
        expect(await driver.writeAt('up/big', first.length, streamOf(second))).toBe(
          first.length + second.length,
        );
        expect((await content('up/big')).equals(Buffer.concat([first, second]))).toBe(true);
      });

      it('creates an empty object from an empty body', async () => {
        expect(await driver.writeAt('up/empty', 0, streamOf(new Uint8Array(0)))).toBe(0);
        expect((await driver.stat('up/empty'))?.size).toBe(0);
      });

      it('rejects an offset beyond a missing object without creating it', async () => {
        await expect(driver.writeAt('up/none', 5, streamOf(Buffer.from('x')))).rejects.toBeInstanceOf(
          StorageRangeError,
        );
        expect(await driver.stat('up/none')).toBeNull();
      });

      it('rejects an offset beyond the current size and leaves the object alone', async () => {
        await driver.writeAt('up/data', 0, streamOf(Buffer.from('0123456789')));
        await expect(driver.writeAt('up/data', 11, streamOf(Buffer.from('x')))).rejects.toBeInstanceOf(
          StorageRangeError,
        );
        expect((await content('up/data')).toString()).toBe('0123456789');
      });

      it('rejects negative and fractional offsets', async () => {
        await driver.writeAt('up/data', 0, streamOf(Buffer.from('0123456789')));
        for (const offset of [-1, 1.5, Number.NaN]) {
          await expect(driver.writeAt('up/data', offset, streamOf(Buffer.from('x')))).rejects.toBeInstanceOf(
            StorageRangeError,
          );
        }
        expect((await content('up/data')).toString()).toBe('0123456789');
      });

      it('discards everything from the offset on before writing', async () => {
        await driver.writeAt('up/data', 0, streamOf(Buffer.from('0123456789')));
        expect(await driver.writeAt('up/data', 4, streamOf(Buffer.from('ab')))).toBe(6);
        expect((await content('up/data')).toString()).toBe('0123ab');
        // An empty body only truncates.
        expect(await driver.writeAt('up/data', 2, streamOf(new Uint8Array(0)))).toBe(2);
        expect((await content('up/data')).toString()).toBe('01');
        // Offset 0 on an existing object starts it over.
        expect(await driver.writeAt('up/data', 0, streamOf(Buffer.from('z')))).toBe(1);
        expect((await content('up/data')).toString()).toBe('z');
      });

      it('continues correctly after a body that failed midway', async () => {
        const first = randomBytes(100 * 1024);
        await driver.writeAt('up/data', 0, streamOf(first));
        await expect(
          driver.writeAt('up/data', first.length, failingStream(randomBytes(MiB), 300 * 1024)),
        ).rejects.toThrow('body failed midway');
        // What the failed write left is unspecified, but the bytes before its offset are intact.
        const after = await driver.stat('up/data');
        expect(after?.size).toBeGreaterThanOrEqual(first.length);
        const head = await readAll(await driver.read('up/data', { offset: 0, length: first.length }));
        expect(head.equals(first)).toBe(true);
        // The client retries from the last offset it was told about.
        const second = randomBytes(50 * 1024);
        expect(await driver.writeAt('up/data', first.length, streamOf(second))).toBe(
          first.length + second.length,
        );
        expect((await content('up/data')).equals(Buffer.concat([first, second]))).toBe(true);
      });

      it('produces an object that moves to its final key (the upload commit)', async () => {
        const data = randomBytes(200 * 1024);
        await driver.writeAt('uploads/session/data', 0, streamOf(data));
        await driver.move('uploads/session/data', 'blobs/sha256/ab/abcdef/data');
        expect((await content('blobs/sha256/ab/abcdef/data')).equals(data)).toBe(true);
        expect(await driver.stat('uploads/session/data')).toBeNull();
      });
    });

    describe('move', () => {
      it('moves to a new key in a new directory', async () => {
        await driver.write('m/src', Buffer.from('payload'));
        await driver.move('m/src', 'n/o/p/dst');
        expect(await driver.stat('m/src')).toBeNull();
        expect((await content('n/o/p/dst')).toString()).toBe('payload');
      });

      it('replaces an existing target', async () => {
        await driver.write('m/src', Buffer.from('new'));
        await driver.write('m/dst', Buffer.from('old and longer'));
        await driver.move('m/src', 'm/dst');
        expect((await content('m/dst')).toString()).toBe('new');
        expect(await listAll(driver.list('m'))).toEqual(['m/dst']);
      });

      it('throws StorageNotFoundError for a missing source and leaves the target alone', async () => {
        await driver.write('m/dst', Buffer.from('kept'));
        await expect(driver.move('m/missing', 'm/dst')).rejects.toBeInstanceOf(StorageNotFoundError);
        await expect(driver.move('m', 'x/y')).rejects.toBeInstanceOf(StorageNotFoundError);
        expect((await content('m/dst')).toString()).toBe('kept');
        expect(await driver.stat('x/y')).toBeNull();
      });

      it('keeps an object moved onto itself', async () => {
        await driver.write('m/self', Buffer.from('me'));
        await driver.move('m/self', 'm/self');
        expect((await content('m/self')).toString()).toBe('me');
      });
    });

    describe('delete', () => {
      it('deletes an object and only that object', async () => {
        await driver.write('d/a', Buffer.from('a'));
        await driver.write('d/b', Buffer.from('b'));
        await driver.delete('d/a');
        expect(await driver.stat('d/a')).toBeNull();
        await expect(driver.read('d/a')).rejects.toBeInstanceOf(StorageNotFoundError);
        expect(await listAll(driver.list('d'))).toEqual(['d/b']);
      });

      it('accepts missing keys and leaves keys below a prefix alone', async () => {
        await driver.delete('never/written');
        await driver.write('d/e/f', Buffer.from('f'));
        await driver.delete('d/e');
        await driver.delete('d');
        expect((await content('d/e/f')).toString()).toBe('f');
      });

      it('lets a key be written again where the last object of a directory was deleted', async () => {
        await driver.write('d/e/f', Buffer.from('1'));
        await driver.delete('d/e/f');
        expect(await listAll(driver.list('d'))).toEqual([]);
        await driver.write('d/e/f', Buffer.from('2'));
        await driver.writeAt('d/e/g', 0, streamOf(Buffer.from('3')));
        expect(await listAll(driver.list('d'))).toEqual(['d/e/f', 'd/e/g']);
      });
    });

    describe('deletePrefix', () => {
      beforeEach(async () => {
        for (const key of ['p/q/r', 'p/q/s', 'p/t', 'pq/u', 'other/v'])
          await driver.write(key, Buffer.from(key));
      });

      it('deletes everything below the prefix and nothing beside it', async () => {
        await driver.deletePrefix('p/q');
        expect(await listAll(driver.list('p'))).toEqual(['p/t']);
        await driver.deletePrefix('p');
        expect(await listAll(driver.list('p'))).toEqual([]);
        expect(await driver.stat('p/t')).toBeNull();
        expect(await listAll(driver.list('pq'))).toEqual(['pq/u']);
        expect(await listAll(driver.list('other'))).toEqual(['other/v']);
      });

      it('accepts a missing prefix', async () => {
        await driver.deletePrefix('nothing/here');
        await driver.deletePrefix('p/t/deeper');
        expect(await listAll(driver.list('p'))).toEqual(['p/q/r', 'p/q/s', 'p/t']);
      });

      it('does not delete an object stored at the prefix itself', async () => {
        await driver.deletePrefix('pq/u');
        expect((await content('pq/u')).toString()).toBe('pq/u');
      });

      it('lets keys be written under the prefix again', async () => {
        await driver.deletePrefix('p');
        await driver.write('p/q/r', Buffer.from('again'));
        expect(await listAll(driver.list('p'))).toEqual(['p/q/r']);
      });
    });

    describe('list', () => {
      it('lists nested keys with their full names', async () => {
        const keys = ['l/a', 'l/b/c', 'l/b/d/e', 'l/b/d/f', 'lx/g', 'm/h'];
        for (const key of keys) await driver.write(key, Buffer.from(key));
        expect(await listAll(driver.list('l'))).toEqual(['l/a', 'l/b/c', 'l/b/d/e', 'l/b/d/f']);
        expect(await listAll(driver.list('l/b/d'))).toEqual(['l/b/d/e', 'l/b/d/f']);
      });

      it('yields nothing for missing prefixes, emptied prefixes and objects', async () => {
        expect(await listAll(driver.list('missing'))).toEqual([]);
        await driver.write('l/only', Buffer.from('x'));
        expect(await listAll(driver.list('l/only'))).toEqual([]);
        await driver.delete('l/only');
        expect(await listAll(driver.list('l'))).toEqual([]);
      });

      it('lists many keys and lets the caller delete while iterating', async () => {
        const keys = Array.from({ length: 120 }, (_, i) => `many/${i % 7}/${i}`);
        await Promise.all(keys.map((key) => driver.write(key, Buffer.from(key))));
        const seen: string[] = [];
        for await (const key of driver.list('many')) {
          seen.push(key);
          await driver.delete(key);
        }
        expect(seen.sort()).toEqual([...keys].sort());
        expect(await listAll(driver.list('many'))).toEqual([]);
      });
    });

    describe('invalid keys', () => {
      const good = 'valid/key';

      beforeEach(async () => {
        await driver.write(good, Buffer.from('kept'));
      });

      for (const bad of INVALID_KEYS) {
        it(`rejects ${JSON.stringify(bad.length > 40 ? `${bad.slice(0, 20)}...` : bad)} in every method`, async () => {
          const invalid = /invalid storage key/;
          await expect(driver.stat(bad)).rejects.toThrow(invalid);
          await expect(driver.read(bad)).rejects.toThrow(invalid);
          await expect(driver.write(bad, Buffer.from('x'))).rejects.toThrow(invalid);
          await expect(driver.write(bad, streamOf(Buffer.from('x')))).rejects.toThrow(invalid);
          await expect(driver.writeAt(bad, 0, streamOf(Buffer.from('x')))).rejects.toThrow(invalid);
          await expect(driver.move(bad, good)).rejects.toThrow(invalid);
          await expect(driver.move(good, bad)).rejects.toThrow(invalid);
          await expect(driver.delete(bad)).rejects.toThrow(invalid);
          await expect(driver.deletePrefix(bad)).rejects.toThrow(invalid);
          await expect(listAll(driver.list(bad))).rejects.toThrow(invalid);
          expect((await content(good)).toString()).toBe('kept');
        });
      }
    });

    it('passes check()', async () => {
      await expect(driver.check()).resolves.toBeUndefined();
      // The probe is not an object anyone can see.
      await driver.write('c/x', Buffer.from('x'));
      await driver.check();
      expect(await listAll(driver.list('c'))).toEqual(['c/x']);
    });

    describe('openCopy', () => {
      /** A writable that keeps copies of what it is given (the driver may reuse its buffers). */
      function sink(): { writable: Writable; bytes(): Buffer } {
        const parts: Buffer[] = [];
        const writable = new Writable({
          highWaterMark: 64 * 1024,
          write(chunk: Buffer, _enc, done) {
            parts.push(Buffer.from(chunk));
            setImmediate(done);
          },
        });
        return { writable, bytes: () => Buffer.concat(parts) };
      }

      it('copies a whole multi-MiB object and ranges of it, byte for byte', async () => {
        const data = randomBytes(5 * 1024 * 1024 + 333);
        await driver.write('copy/a', data);
        const whole = await driver.openCopy('copy/a');
        expect(whole.length).toBe(data.length);
        const out = sink();
        await whole.copyTo(out.writable);
        expect(out.bytes().equals(data)).toBe(true);

        const part = await driver.openCopy('copy/a', { offset: 1_000_000, length: 2_500_001 });
        expect(part.length).toBe(2_500_001);
        const partOut = sink();
        await part.copyTo(partOut.writable);
        expect(partOut.bytes().equals(data.subarray(1_000_000, 3_500_001))).toBe(true);

        const empty = await driver.openCopy('copy/a', { offset: data.length });
        expect(empty.length).toBe(0);
        await empty.copyTo(sink().writable);
      });

      it('fails before writing for a missing key or a bad range, and close() releases an unused copy', async () => {
        await expect(driver.openCopy('copy/missing')).rejects.toBeInstanceOf(StorageNotFoundError);
        await driver.write('copy/b', Buffer.from('12345'));
        await expect(driver.openCopy('copy/b', { offset: 6 })).rejects.toBeInstanceOf(StorageRangeError);
        const unused = await driver.openCopy('copy/b');
        await unused.close();
      });

      it('rejects when the destination closes before the copy finishes', async () => {
        await driver.write('copy/c', randomBytes(4 * 1024 * 1024));
        const copy = await driver.openCopy('copy/c');
        const destination = new PassThrough({ highWaterMark: 1024 });
        // Nobody reads: the copy waits for room, then the destination goes away.
        setTimeout(() => destination.destroy(), 50);
        await expect(copy.copyTo(destination)).rejects.toThrow();
      });
    });
  });
}
