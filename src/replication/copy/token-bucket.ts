import { Transform } from 'node:stream';
import { sleep } from './sleep.js';

// Bandwidth limit (Harbor's `speed`): one bucket per copy, shared by every blob stream of it, so
// that parallel layers together stay under the limit. Tokens are bytes; they refill at the rate,
// up to a small burst (a tenth of a second), and a taker may go into debt and then waits it off:
// over any transfer longer than a moment the average is the rate.

export class TokenBucket {
  readonly #bytesPerSecond: number;
  readonly #burst: number;
  #tokens: number;
  #last = performance.now();
  /** Takers in arrival order: one waits at a time, so the debt is paid in turn. */
  #queue: Promise<void> = Promise.resolve();

  constructor(bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new RangeError('a token bucket needs a positive rate');
    this.#bytesPerSecond = bytesPerSecond;
    this.#burst = Math.max(1, bytesPerSecond / 10);
    this.#tokens = this.#burst;
  }

  /** The most bytes worth letting through at once: the burst, so a stream trickles at the rate. */
  get sliceBytes(): number {
    return Math.max(1024, Math.floor(this.#burst));
  }

  /** Resolves when `bytes` may pass; rejects when the signal aborts the wait. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    const turn = this.#queue.then(() => this.#pay(bytes, signal));
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  async #pay(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#bytesPerSecond);
    this.#last = now;
    this.#tokens -= bytes;
    if (this.#tokens < 0) await sleep(Math.ceil((-this.#tokens / this.#bytesPerSecond) * 1000), signal);
  }
}

/** Harbor's `speed` is KB/s with 1 KB = 1024 bytes; 0 (or less) means no limit. */
export function bucketForSpeed(speedKbps: number | undefined): TokenBucket | null {
  return speedKbps && speedKbps > 0 ? new TokenBucket(speedKbps * 1024) : null;
}

/**
 * A pass-through stream that lets bytes out no faster than the bucket allows. A large chunk (a
 * source that reads a whole blob at once) goes out in slices, each after its wait, rather than
 * whole after the wait for all of it.
 */
export function throttle(bucket: TokenBucket, signal?: AbortSignal): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const slice = bucket.sliceBytes;
      const passSlices = async () => {
        for (let offset = 0; offset < chunk.length; offset += slice) {
          const piece = chunk.subarray(offset, offset + slice);
          await bucket.take(piece.length, signal);
          this.push(piece);
        }
      };
      passSlices().then(
        () => done(),
        (err: unknown) => done(err as Error),
      );
    },
  });
}
