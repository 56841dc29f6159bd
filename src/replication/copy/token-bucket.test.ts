import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { CopyError } from './errors.js';
import { bucketForSpeed, throttle, TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('lets bytes through no faster than the rate (bounded below only: the machine may be slow)', async () => {
    const bucket = new TokenBucket(1024 * 1024);
    const started = performance.now();
    let received = 0;
    await pipeline(
      Readable.from(Array.from({ length: 8 }, () => Buffer.alloc(64 * 1024))),
      throttle(bucket),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          received += chunk.length;
          done();
        },
      }),
    );
    expect(received).toBe(512 * 1024);
    // 512 KiB at 1 MiB/s, less the burst of a tenth of a second.
    expect(performance.now() - started).toBeGreaterThanOrEqual(380);
  });

  it('passes a large chunk in slices of the burst, in order, not whole after the wait for all', async () => {
    const bucket = new TokenBucket(64 * 1024);
    const whole = Buffer.from(Array.from({ length: 16 * 1024 }, (_, i) => i % 251));
    const pieces: Buffer[] = [];
    await pipeline(
      Readable.from([whole]),
      throttle(bucket),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          pieces.push(chunk);
          done();
        },
      }),
    );
    expect(pieces.length).toBe(Math.ceil(whole.length / bucket.sliceBytes));
    expect(pieces.every((p) => p.length <= bucket.sliceBytes)).toBe(true);
    expect(Buffer.concat(pieces).equals(whole)).toBe(true);
  });

  it('stops waiting when the signal aborts', async () => {
    const bucket = new TokenBucket(1024);
    const controller = new AbortController();
    const waiting = bucket.take(1024 * 1024, controller.signal).catch((e: unknown) => e);
    controller.abort();
    const err = await waiting;
    expect(err).toBeInstanceOf(CopyError);
    expect((err as CopyError).kind).toBe('aborted');
  });

  it("reads Harbor's speed as KB/s, with 0 meaning no limit", () => {
    expect(bucketForSpeed(0)).toBeNull();
    expect(bucketForSpeed(undefined)).toBeNull();
    expect(bucketForSpeed(100)).toBeInstanceOf(TokenBucket);
  });
});
