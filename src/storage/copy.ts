import type { Readable, Writable } from 'node:stream';
import type { ObjectCopy } from './driver.js';

// Copying into an HTTP response (or any writable) with backpressure, for the drivers' openCopy.

/** Rejects when destination closes or fails before `done` settles. */
function untilClosed(destination: Writable): { closed: Promise<never>; dispose(): void } {
  let onClose: () => void = () => undefined;
  const closed = new Promise<never>((_, reject) => {
    onClose = () => reject(new Error('the destination closed before the copy finished'));
  });
  closed.catch(() => undefined);
  destination.once('close', onClose);
  destination.once('error', onClose);
  return {
    closed,
    dispose: () => {
      destination.off('close', onClose);
      destination.off('error', onClose);
    },
  };
}

function writeChunk(destination: Writable, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    destination.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Copies `length` bytes read by `readAt` into destination through a small ring of reused buffers:
 * a buffer is refilled only after the destination has taken its previous contents (the write
 * callback), so memory stays at ring × size per copy and no buffer is allocated per chunk.
 */
export async function copyWithBufferRing(
  readAt: (buffer: Buffer, length: number, position: number) => Promise<number>,
  start: number,
  length: number,
  destination: Writable,
  ring = 3,
  bufferSize = 1024 * 1024,
): Promise<void> {
  const buffers = Array.from({ length: ring }, () =>
    Buffer.allocUnsafeSlow(Math.min(bufferSize, Math.max(length, 1))),
  );
  const inFlight: Array<Promise<void> | undefined> = new Array<Promise<void> | undefined>(ring);
  const { closed, dispose } = untilClosed(destination);
  try {
    let done = 0;
    for (let i = 0; done < length; i = (i + 1) % ring) {
      const previous = inFlight[i];
      if (previous) await Promise.race([previous, closed]);
      const buffer = buffers[i] as Buffer;
      const n = await readAt(buffer, Math.min(buffer.length, length - done), start + done);
      if (n <= 0) throw new Error(`object ended after ${done} of ${length} bytes`);
      done += n;
      const written = writeChunk(destination, n === buffer.length ? buffer : buffer.subarray(0, n));
      written.catch(() => undefined);
      inFlight[i] = written;
      if (destination.writableNeedDrain) {
        await Promise.race([new Promise((resolve) => destination.once('drain', resolve)), closed]);
      }
    }
    await Promise.race([Promise.all(inFlight.filter(Boolean)), closed]);
  } finally {
    dispose();
  }
}

/** openCopy for drivers whose only way to read is a stream. */
export function copyFromStream(stream: Readable, length: number): ObjectCopy {
  return {
    length,
    async copyTo(destination) {
      const { closed, dispose } = untilClosed(destination);
      try {
        for await (const chunk of stream) {
          await Promise.race([writeChunk(destination, chunk as Buffer), closed]);
          if (destination.writableNeedDrain) {
            await Promise.race([new Promise((resolve) => destination.once('drain', resolve)), closed]);
          }
        }
      } finally {
        dispose();
        stream.destroy();
      }
    },
    async close() {
      stream.destroy();
    },
  };
}
