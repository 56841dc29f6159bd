import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ChunkReader } from './chunk-reader.js';
import { CopyError } from './errors.js';

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}

describe('ChunkReader', () => {
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  // Reads of 77 bytes: pieces never line up with them.
  const source = () =>
    Readable.from(Array.from({ length: 13 }, (_, i) => bytes.subarray(i * 77, (i + 1) * 77)));

  it('cuts a stream into pieces of exact lengths, seen by the callback as they go', async () => {
    const reader = new ChunkReader(source());
    const seen: Buffer[] = [];
    const pieces = [];
    for (const length of [300, 300, 400])
      pieces.push(await collect(reader.piece(length, (b) => seen.push(b))));
    expect(pieces.map((p) => p.length)).toEqual([300, 300, 400]);
    expect(Buffer.concat(pieces).equals(bytes)).toBe(true);
    expect(Buffer.concat(seen).equals(bytes)).toBe(true);
  });

  it('skips bytes (hashing them only) before the next piece', async () => {
    const reader = new ChunkReader(source());
    const skipped: Buffer[] = [];
    await reader.skip(123, (b) => skipped.push(b));
    expect(Buffer.concat(skipped).equals(bytes.subarray(0, 123))).toBe(true);
    expect((await collect(reader.piece(877, () => undefined))).equals(bytes.subarray(123))).toBe(true);
  });

  it('fails a piece with an integrity error when the source ends short', async () => {
    const reader = new ChunkReader(source());
    const err = await collect(reader.piece(1001, () => undefined)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyError);
    expect((err as CopyError).kind).toBe('integrity');
  });
});
