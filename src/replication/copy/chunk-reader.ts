import { Readable } from 'node:stream';
import { CopyError } from './errors.js';

// Cuts one stream (a blob read from the source) into consecutive pieces of exact lengths, each a
// stream of its own (one PATCH body per piece), without buffering more than the chunk in flight.
// When a piece's request fails, the reader is abandoned with its source: where the copy resumes
// is the destination's word, and the source is opened again at that offset.

export class ChunkReader {
  readonly #source: Readable;
  readonly #iterator: AsyncIterator<Buffer>;
  #rest: Buffer | null = null;

  constructor(source: Readable) {
    this.#source = source;
    // The iterator is pulled by hand and never returned: returning it would destroy the source
    // when the first piece ends.
    this.#iterator = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** The next `length` bytes as a stream; `onBytes` sees each piece of it as it goes out. */
  piece(length: number, onBytes: (bytes: Buffer) => void): Readable {
    const next = (max: number): Promise<Buffer> => this.#next(max);
    return Readable.from(
      (async function* () {
        for (let left = length; left > 0;) {
          const part = await next(left);
          left -= part.length;
          onBytes(part);
          yield part;
        }
      })(),
      { objectMode: false },
    );
  }

  /** Reads `length` bytes and hands them to `onBytes` only (to hash bytes the destination has). */
  async skip(length: number, onBytes: (bytes: Buffer) => void): Promise<void> {
    for await (const part of this.piece(length, onBytes) as AsyncIterable<Buffer>) void part;
  }

  close(): void {
    this.#source.destroy();
  }

  /** At most `max` bytes: what was left over from the last read, else the next read. */
  async #next(max: number): Promise<Buffer> {
    let bytes = this.#rest;
    this.#rest = null;
    if (!bytes) {
      const read = await this.#iterator.next();
      if (read.done) throw new CopyError('integrity', 'the source blob ended before its size', 'source');
      bytes = read.value;
    }
    if (bytes.length > max) {
      this.#rest = bytes.subarray(max);
      return bytes.subarray(0, max);
    }
    return bytes;
  }
}
