import { Readable } from 'node:stream';
import {
  assertOffset,
  assertValidKey,
  resolveRange,
  StorageNotFoundError,
  StorageRangeError,
  type ByteRange,
  type ObjectCopy,
  type ObjectInfo,
  type StorageDriver,
} from './driver.js';
import { copyFromStream } from './copy.js';

interface StoredObject {
  data: Buffer;
  modifiedAt: Date;
}

/**
 * Objects in a Map, for tests (unit tests, and the apps of the in-process tier). It buffers whole
 * bodies, so it is never a production driver, but it keeps the semantics of the real
 * drivers (atomic writes, writeAt truncation, ranges, errors) so tests written against it hold there.
 * Stored buffers are never mutated, only replaced, so a stream handed out keeps its bytes.
 */
export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  readonly #objects = new Map<string, StoredObject>();

  async stat(key: string): Promise<ObjectInfo | null> {
    assertValidKey(key);
    const object = this.#objects.get(key);
    return object ? { size: object.data.length, modifiedAt: object.modifiedAt } : null;
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    const object = this.#objects.get(key);
    if (!object) throw new StorageNotFoundError(key);
    const { start, end } = resolveRange(range, object.data.length);
    return Readable.from(start === end ? [] : [object.data.subarray(start, end)], { objectMode: false });
  }

  async openCopy(key: string, range?: ByteRange): Promise<ObjectCopy> {
    const object = this.#objects.get(key);
    const stream = await this.read(key, range);
    const { start, end } = resolveRange(range, object?.data.length ?? 0);
    return copyFromStream(stream, end - start);
  }

  async write(key: string, body: Readable | Uint8Array): Promise<number> {
    assertValidKey(key);
    // Collect everything before storing: a body that fails leaves the previous object in place.
    const data = body instanceof Uint8Array ? Buffer.from(body) : Buffer.concat(await collect(body, []));
    this.#store(key, data);
    return data.length;
  }

  async writeAt(key: string, offset: number, body: Readable): Promise<number> {
    assertValidKey(key);
    assertOffset(offset);
    const size = this.#objects.get(key)?.data.length ?? 0;
    if (offset > size) throw new StorageRangeError(`cannot write at ${offset}: ${key} has ${size} bytes`);
    const chunks = [this.#objects.get(key)?.data.subarray(0, offset) ?? Buffer.alloc(0)];
    try {
      await collect(body, chunks);
    } finally {
      // Like a file, an interrupted write keeps the truncation and whatever arrived before the failure.
      this.#store(key, Buffer.concat(chunks));
    }
    return this.#objects.get(key)?.data.length ?? 0;
  }

  async move(from: string, to: string): Promise<void> {
    assertValidKey(from);
    assertValidKey(to);
    const object = this.#objects.get(from);
    if (!object) throw new StorageNotFoundError(from);
    this.#objects.delete(from);
    this.#objects.set(to, object);
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    this.#objects.delete(key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    assertValidKey(prefix);
    for (const key of this.#objects.keys()) {
      if (key.startsWith(`${prefix}/`)) this.#objects.delete(key);
    }
  }

  async *list(prefix: string): AsyncGenerator<string> {
    assertValidKey(prefix);
    // A snapshot, so callers may delete while they iterate.
    const keys = [...this.#objects.keys()].filter((key) => key.startsWith(`${prefix}/`));
    yield* keys;
  }

  async check(): Promise<void> {}

  #store(key: string, data: Buffer): void {
    this.#objects.set(key, { data, modifiedAt: new Date() });
  }
}

/** Appends every chunk of body to chunks (as Buffers) and returns chunks. */
async function collect(body: Readable, chunks: Buffer[]): Promise<Buffer[]> {
  for await (const chunk of body as AsyncIterable<unknown>) {
    if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    else throw new TypeError('storage bodies must be streams of bytes');
  }
  return chunks;
}
