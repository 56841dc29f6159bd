import { createHash, type Hash } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { parseDigest } from '../../domain/digest.js';
import type { UploadSession } from '../../remote/index.js';
import { ChunkReader } from './chunk-reader.js';
import { short, type CopyContext } from './context.js';
import { abortedError, asCopyError, CopyError, onPeer } from './errors.js';
import { backoffMs, sleep } from './sleep.js';
import { throttle } from './token-bucket.js';

// One blob streamed from the source into an upload session on the destination, in chunks of a
// bounded size, hashed as the bytes go by. After a failed chunk the destination says how much it
// holds (uploadStatus) and the copy goes on from there with the source reopened at that offset;
// when the destination cannot resume (its session is gone: docker-registry after a broken
// chunk), the blob starts again in a new session. The upload is only finished when the hash of
// every byte sent matches the digest: a corrupt source never becomes a blob on the destination.

export interface BlobRef {
  digest: string;
  size: number;
}

/** The hash of the first `offset` bytes: where the copy stands, as the destination confirmed. */
interface Checkpoint {
  offset: number;
  hash: Hash;
}

/** A chunk the destination answered for with an offset other than the one sent up to: ask it. */
class OffsetMismatch extends CopyError {
  constructor(message: string) {
    super('other', message, 'destination');
  }
}

export async function uploadBlob(
  ctx: CopyContext,
  blob: BlobRef,
  opened: UploadSession | null,
): Promise<void> {
  await new BlobUpload(ctx, blob).run(opened);
}

class BlobUpload {
  readonly #ctx: CopyContext;
  readonly #blob: BlobRef;
  readonly #algorithm: 'sha256' | 'sha512';
  readonly #hex: string;
  #session: UploadSession | null = null;
  #checkpoint: Checkpoint;

  constructor(ctx: CopyContext, blob: BlobRef) {
    this.#ctx = ctx;
    this.#blob = blob;
    const parsed = parseDigest(blob.digest);
    if (!parsed.ok)
      throw new CopyError('invalid', `blob ${blob.digest.slice(0, 80)}: ${parsed.message}`, 'source');
    this.#algorithm = parsed.digest.algorithm;
    this.#hex = parsed.digest.hex;
    this.#checkpoint = this.#start();
  }

  async run(opened: UploadSession | null): Promise<void> {
    const { signal, settings } = this.#ctx;
    const dest = this.#ctx.destination;
    this.#session = opened;
    let failures = 0;
    let locate = false;
    for (;;) {
      const progress = this.#checkpoint.offset;
      try {
        if (this.#session && locate) await this.#locate(this.#session);
        if (!this.#session) {
          this.#session = await onPeer('destination', signal, () =>
            dest.registry.startUpload(dest.repository, signal),
          );
          this.#checkpoint = this.#start();
        }
        await this.#transfer(this.#session);
        return;
      } catch (raw) {
        const err = classify(raw, signal);
        if (err.kind === 'aborted') {
          void this.#abandon(false);
          throw err;
        }
        if (!recoverable(err)) {
          await this.#abandon(true);
          throw err;
        }
        failures = this.#checkpoint.offset > progress ? 1 : failures + 1;
        if (failures >= settings.attempts) {
          await this.#abandon(true);
          throw new CopyError(
            'unreachable',
            `blob ${short(this.#blob.digest)}: gave up after ${failures} attempts without progress: ${err.message}`,
            err.side,
            { cause: err },
          );
        }
        this.#ctx.log(
          `blob ${short(this.#blob.digest)}: interrupted at ${this.#checkpoint.offset} of ${this.#blob.size} bytes (${err.message}); retrying, attempt ${failures + 1} of ${settings.attempts} without progress`,
        );
        // A session the destination no longer knows cannot be asked where it stands.
        if (err.kind === 'not-found' && err.side === 'destination') this.#restart();
        locate = true;
        await sleep(backoffMs(failures, settings.backoffMs, settings.maxBackoffMs), signal);
      }
    }
  }

  /** Asks the destination how many bytes the session holds; resumes there, or starts over. */
  async #locate(session: UploadSession): Promise<void> {
    const { signal } = this.#ctx;
    const dest = this.#ctx.destination;
    let status: UploadSession;
    try {
      status = await dest.registry.uploadStatus(session, signal);
    } catch (err) {
      const e = asCopyError(err, 'destination', signal);
      if (e.kind !== 'not-found') throw e;
      this.#ctx.log(
        `blob ${short(this.#blob.digest)}: the destination cannot resume the upload; starting again`,
      );
      this.#restart();
      return;
    }
    if (status.offset < this.#checkpoint.offset || status.offset > this.#blob.size) {
      this.#ctx.log(
        `blob ${short(this.#blob.digest)}: the destination holds ${status.offset} bytes, not a resumable offset; starting again`,
      );
      void dest.registry.cancelUpload(session, AbortSignal.timeout(5_000)).catch(() => undefined);
      this.#restart();
      return;
    }
    this.#ctx.counts.resumes++;
    this.#ctx.log(`blob ${short(this.#blob.digest)}: resuming at offset ${status.offset}`);
    this.#session = status;
  }

  /** Sends everything from the session's offset, verifies the hash, and finishes the upload. */
  async #transfer(session: UploadSession): Promise<void> {
    const { signal, settings, counts } = this.#ctx;
    const dest = this.#ctx.destination;
    const size = this.#blob.size;
    const hash = this.#checkpoint.hash.copy();
    let at = this.#checkpoint.offset;
    if (at < size) {
      const reader = new ChunkReader(await this.#open(at));
      try {
        // The destination may hold more than the checkpoint (part of a broken chunk): those bytes
        // are read and hashed, not sent.
        if (session.offset > at) {
          await reader.skip(session.offset - at, (bytes) => hash.update(bytes));
          at = session.offset;
          this.#checkpoint = { offset: at, hash: hash.copy() };
        }
        while (at < size) {
          // Streamed: the rest in one PATCH; it carries no Content-Range when it starts at 0, so
          // the destination takes it as one stream from the start (natively hashed on Wharf).
          const length = settings.byChunk ? Math.min(settings.chunkBytes, size - at) : size - at;
          const streamed = !settings.byChunk && at === 0;
          const body = reader.piece(length, (bytes) => {
            hash.update(bytes);
            counts.bytesSent += bytes.length;
          });
          const next = await onPeer('destination', signal, () =>
            dest.registry.uploadChunk(session, body, length, signal, { streamed }),
          );
          this.#session = session = next;
          if (next.offset !== at + length) {
            throw new OffsetMismatch(
              `the destination holds ${next.offset} bytes after a chunk ending at ${at + length}`,
            );
          }
          at += length;
          this.#checkpoint = { offset: at, hash: hash.copy() };
        }
      } finally {
        reader.close();
      }
    }
    const actual = hash.digest('hex');
    if (actual !== this.#hex) {
      throw new CopyError(
        'integrity',
        `blob ${short(this.#blob.digest)}: the source's bytes hash to ${this.#algorithm}:${actual.slice(0, 12)}…, not to the digest; refused`,
        'source',
      );
    }
    const stored = await onPeer('destination', signal, () =>
      dest.registry.finishUpload(session, this.#blob.digest, undefined, signal),
    );
    this.#session = null;
    if (stored !== this.#blob.digest) {
      throw new CopyError(
        'integrity',
        `blob ${short(this.#blob.digest)}: the destination stored ${stored}`,
        'destination',
      );
    }
  }

  /** The source from `offset`, through the bandwidth limit. */
  async #open(offset: number): Promise<Readable> {
    const { signal, bucket } = this.#ctx;
    const src = this.#ctx.source;
    const opened = await onPeer('source', signal, () =>
      src.registry.openBlob(src.repository, this.#blob.digest, { offset, ...(signal && { signal }) }),
    );
    if (Number.isFinite(opened.size) && opened.size !== this.#blob.size) {
      opened.stream.destroy();
      throw new CopyError(
        'integrity',
        `blob ${short(this.#blob.digest)}: the source has ${opened.size} bytes, the manifest says ${this.#blob.size}`,
        'source',
      );
    }
    if (!bucket) return opened.stream;
    // pipeline, not pipe: a broken source connection reaches the reader as an error.
    return pipeline(opened.stream, throttle(bucket, signal), () => undefined);
  }

  #start(): Checkpoint {
    return { offset: 0, hash: createHash(this.#algorithm) };
  }

  #restart(): void {
    this.#ctx.counts.restarts++;
    this.#session = null;
    this.#checkpoint = this.#start();
  }

  /** Drops the session on the destination: awaited (briefly) on failure, in the background on abort. */
  async #abandon(wait: boolean): Promise<void> {
    const session = this.#session;
    this.#session = null;
    if (!session) return;
    const cancel = this.#ctx.destination.registry
      .cancelUpload(session, AbortSignal.timeout(5_000))
      .catch(() => undefined);
    if (wait) await cancel;
  }
}

/** The error a failed step means: the copy engine's own, found even when wrapped by the HTTP client. */
function classify(err: unknown, signal: AbortSignal | undefined): CopyError {
  if (signal?.aborted) return abortedError(signal);
  // A request whose body (the source stream) failed carries the body's error as its cause.
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof CopyError && (e.kind === 'integrity' || e.kind === 'aborted')) return e;
  }
  return asCopyError(err, 'destination', signal);
}

function recoverable(err: CopyError): boolean {
  if (err instanceof OffsetMismatch) return true;
  if (err.kind === 'unreachable') return true;
  if (err.side !== 'destination') return false;
  // The session is gone (restart), or the destination disagrees about the offset (ask it).
  const status = (err.cause as { status?: unknown } | undefined)?.status;
  return err.kind === 'not-found' || status === 416;
}
