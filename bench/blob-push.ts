import { createHash, randomBytes } from 'node:crypto';
import type { RegistryClient } from './client.js';

// Many small monolithic blob pushes at a fixed concurrency. Every blob is distinct: a shared random
// body of 1 MiB minus 32 bytes followed by a 32-byte tail unique to the blob. The digest of the
// shared part is computed once and copied per blob, so the client spends almost no CPU on hashing.

export type BlobPushMode = 'single-post' | 'post-put';

export interface BlobPushOptions {
  repo: string;
  mode: BlobPushMode;
  blobSize: number;
  concurrency: number;
  maxCount: number;
  maxMs: number;
  warmup: number;
}

export interface BlobPushResult {
  mode: BlobPushMode;
  count: number;
  seconds: number;
  perSecond: number;
  /** MB/s of blob bodies (1 MB = 10^6 bytes). */
  megabytesPerSecond: number;
}

const TAIL = 32;

export async function measureBlobPushes(
  client: RegistryClient,
  options: BlobPushOptions,
): Promise<BlobPushResult> {
  const head = randomBytes(options.blobSize - TAIL);
  const headHash = createHash('sha256').update(head);
  const salt = randomBytes(TAIL - 8);
  const blob = (index: number): { body: Buffer; digest: string } => {
    const tail = Buffer.alloc(TAIL);
    salt.copy(tail);
    tail.writeBigUInt64BE(BigInt(index), TAIL - 8);
    const digest = `sha256:${headHash.copy().update(tail).digest('hex')}`;
    return { body: Buffer.concat([head, tail]), digest };
  };
  const push = async (index: number): Promise<void> => {
    const { body, digest } = blob(index);
    if (options.mode === 'post-put') {
      await client.pushBlobPostPut(options.repo, body, digest);
      return;
    }
    const res = await client.pushBlobSinglePost(options.repo, body, digest);
    const text = res.status === 201 ? '' : (await res.text()).slice(0, 300);
    await res.body?.cancel();
    if (res.status !== 201)
      throw new Error(`single POST of ${digest}: expected 201, got ${res.status} ${text}`);
  };

  let next = 0;
  await runWorkers(options.concurrency, async (failed) => {
    while (next < options.warmup && !failed()) await push(next++);
  });
  const start = performance.now();
  const deadline = start + options.maxMs;
  let done = 0;
  await runWorkers(options.concurrency, async (failed) => {
    while (next - options.warmup < options.maxCount && performance.now() < deadline && !failed()) {
      await push(next++);
      done++;
    }
  });
  const seconds = (performance.now() - start) / 1000;
  return {
    mode: options.mode,
    count: done,
    seconds,
    perSecond: done / seconds,
    megabytesPerSecond: (done * options.blobSize) / 1e6 / seconds,
  };
}

/**
 * Runs `count` copies of `worker` concurrently. Once one fails, the others see `failed()` true and
 * stop at their next turn; the first failure is rethrown.
 */
export async function runWorkers(
  count: number,
  worker: (failed: () => boolean) => Promise<void>,
): Promise<void> {
  let failure: { reason: unknown } | undefined;
  await Promise.all(
    Array.from({ length: count }, () =>
      worker(() => failure !== undefined).catch((reason: unknown) => {
        failure ??= { reason };
      }),
    ),
  );
  if (failure) throw failure.reason;
}
