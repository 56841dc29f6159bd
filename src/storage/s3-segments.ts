import type { Readable } from 'node:stream';

// How the S3 driver lays out an appendable object (pure code, no requests). Each writeAt(offset)
// stores its bytes as one segment object named by its offset, zero-padded so that names sort like
// numbers. The object's bytes are read from the segments in offset order, each segment starting
// where its bytes begin and running until the next segment begins (or to its own end, for the
// last): so a writeAt that truncates inside a segment only has to add the new segment, not trim
// the old one.

/** The directory segment under a key; no valid key segment starts with '.'. */
export const SEGMENTS = '.appendable';

/** Enough digits for Number.MAX_SAFE_INTEGER. */
const DIGITS = 16;

export function segmentName(offset: number): string {
  return String(offset).padStart(DIGITS, '0');
}

/** The segment at offset 0, without which an appendable object does not exist. */
export const FIRST_SEGMENT = segmentName(0);

/** The offset a segment name stands for, or null for anything else. */
export function segmentOffset(name: string): number | null {
  if (!/^\d{16}$/.test(name)) return null;
  const offset = Number(name);
  return Number.isSafeInteger(offset) ? offset : null;
}

export interface Segment {
  /** The segment's object key in the bucket. */
  key: string;
  /** Where its bytes begin in the appendable object. */
  offset: number;
  size: number;
  modifiedAt: Date;
}

/** A run of bytes of one segment object that belongs to the appendable object. */
export interface Piece {
  key: string;
  /** First byte within the segment object. */
  start: number;
  length: number;
  /** Size of the whole segment object. */
  segmentSize: number;
}

export interface Appendable {
  size: number;
  modifiedAt: Date;
  /** The object's bytes in order; empty pieces are left out. */
  pieces: Piece[];
}

/**
 * The appendable object that a set of stored segments makes, or null when there is none (no
 * segment at offset 0). Segments past a gap are leftovers of an interrupted writeAt (it deletes
 * the segments it replaces before writing its own) and are not part of the object.
 */
export function assembleAppendable(segments: Segment[]): Appendable | null {
  const sorted = [...segments].sort((a, b) => a.offset - b.offset);
  if (sorted[0]?.offset !== 0) return null;
  const chain: Segment[] = [];
  let size = 0;
  for (const segment of sorted) {
    if (segment.offset > size) break;
    chain.push(segment);
    size = segment.offset + segment.size;
  }
  const pieces: Piece[] = [];
  let modifiedAt = new Date(0);
  chain.forEach((segment, i) => {
    const end = chain[i + 1]?.offset ?? size;
    if (end > segment.offset) {
      pieces.push({ key: segment.key, start: 0, length: end - segment.offset, segmentSize: segment.size });
    }
    if (segment.modifiedAt > modifiedAt) modifiedAt = segment.modifiedAt;
  });
  return { size, modifiedAt, pieces };
}

/** The parts of pieces that hold bytes [start, end) of the object they make up. */
export function piecesInRange(pieces: Piece[], start: number, end: number): Piece[] {
  const selected: Piece[] = [];
  let position = 0;
  for (const piece of pieces) {
    const from = Math.max(start, position);
    const to = Math.min(end, position + piece.length);
    if (to > from) {
      selected.push({ ...piece, start: piece.start + from - position, length: to - from });
    }
    position += piece.length;
    if (position >= end) break;
  }
  return selected;
}

/**
 * The first `length` bytes of source, which is destroyed after them. Fails when source ends
 * early: the object changed or vanished while it was read.
 */
export async function* take(source: Readable, length: number): AsyncGenerator<Buffer> {
  let left = length;
  try {
    if (left === 0) return;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      // Bytes beyond length (a server that served more than asked): stop here. Otherwise the
      // loop runs to the source's end, which lets a keep-alive socket be reused.
      if (left === 0) return;
      const piece = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= piece.length;
      yield piece;
    }
    if (left > 0) throw new Error(`object ended ${left} bytes early`);
  } finally {
    source.destroy();
  }
}
