import { randomBytes } from 'node:crypto';
import {
  digestOf,
  expectStatus,
  imageManifest,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  type Descriptor,
  type OciClient,
} from './oci-client.js';
import { waitFor } from './poll.js';

// Continuous, bounded push and pull load for the HA tests, with the project's /v2 client. Every
// client operation (one whole image push, or one whole pull: manifest + every blob, digests
// checked) is counted with its outcome; nothing is retried, so a failure the load balancer and
// the cluster did not hide shows up here. Pushes alternate between single-request blob uploads
// (POST ?digest=) and sessions (POST, PATCH, PUT), so that an upload spans instances, restarts and
// outages. Each operation has a hang bound: one that has not finished within opTimeoutMs is
// counted as failed ("hung").

export type OperationKind = 'push' | 'pull';

export interface OperationRecord {
  kind: OperationKind;
  worker: string;
  /** ms since the load started. */
  startedAt: number;
  /** Date.now() when it started. */
  at: number;
  durationMs: number;
  ok: boolean;
  error?: string;
}

export interface LoadStats {
  total: number;
  failed: number;
  pushes: { ok: number; failed: number };
  pulls: { ok: number; failed: number };
  maxDurationMs: number;
  failures: OperationRecord[];
  records: OperationRecord[];
}

export interface LoadOptions {
  /** A client per worker (all through the same load balancer, or wherever the test wants). */
  client: () => OciClient;
  /** Repository prefix, e.g. test/load-a; workers add their own suffix. */
  repositoryPrefix: string;
  pushers: number;
  pullers: number;
  /** Hard bounds: the load ends by itself after this long or this many operations. */
  maxDurationMs: number;
  maxOperations?: number;
  /** Default 60 s. */
  opTimeoutMs?: number;
  /** Pause between two operations of one worker; default 50 ms. */
  pauseMs?: number;
  /** Bytes per layer (two layers per image); default 128 KiB. */
  layerBytes?: number;
  label?: string;
}

export interface LoadGenerator {
  /** Stops the workers after their current operation; resolves with the final counts. */
  stop(): Promise<LoadStats>;
  stats(): LoadStats;
  /** Resolves once at least one image was pushed (pullers need one). */
  ready: Promise<void>;
}

export interface PushedRef {
  repository: string;
  tag: string;
  digest: string;
  manifest: Buffer;
  blobs: Descriptor[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return `${err.name}: ${err.message}${cause instanceof Error ? ` (cause: ${cause.message})` : ''}`.slice(
      0,
      800,
    );
  }
  return String(err).slice(0, 800);
}

/** Uploads bytes as a session: POST, PATCH with the whole content, PUT ?digest=. */
export async function pushBlobInSession(
  client: OciClient,
  repository: string,
  bytes: Buffer,
): Promise<string> {
  const digest = digestOf(bytes);
  const location = await client.startUpload(repository);
  const patched = await client.request('PATCH', location, {
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': `0-${bytes.length - 1}`,
      'content-length': String(bytes.length),
    },
    body: bytes,
  });
  await expectStatus(patched, 202);
  const next = client.location(patched);
  const separator = next.includes('?') ? '&' : '?';
  const put = await client.request('PUT', `${next}${separator}digest=${digest}`);
  await expectStatus(put, 201);
  return digest;
}

/** One image (config + two layers) under repository:tag; blobs by session or single request. */
export async function pushSmallImage(
  client: OciClient,
  repository: string,
  tag: string,
  options: { layerBytes?: number; session?: boolean } = {},
): Promise<PushedRef> {
  const size = options.layerBytes ?? 128 * 1024;
  const push = (bytes: Buffer) =>
    options.session ? pushBlobInSession(client, repository, bytes) : client.pushBlob(repository, bytes);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }),
  );
  const configDescriptor: Descriptor = {
    mediaType: OCI_CONFIG,
    digest: await push(config),
    size: config.length,
  };
  const layers: Descriptor[] = [];
  for (let i = 0; i < 2; i++) {
    const layer = randomBytes(size + i);
    layers.push({ mediaType: OCI_LAYER, digest: await push(layer), size: layer.length });
  }
  const manifest = imageManifest({ mediaType: OCI_MANIFEST, config: configDescriptor, layers });
  const digest = await client.putManifest(repository, tag, manifest, OCI_MANIFEST);
  return { repository, tag, digest, manifest, blobs: [configDescriptor, ...layers] };
}

/** GET the manifest by tag and every blob it names; every digest must check out. */
export async function pullAndVerify(client: OciClient, ref: PushedRef): Promise<void> {
  const res = await client.request('GET', `/v2/${ref.repository}/manifests/${ref.tag}`, {
    headers: { accept: OCI_MANIFEST },
  });
  await expectStatus(res, 200);
  const body = Buffer.from(await res.arrayBuffer());
  if (digestOf(body) !== ref.digest) {
    throw new Error(
      `manifest ${ref.repository}:${ref.tag} hashes to ${digestOf(body)}, expected ${ref.digest}`,
    );
  }
  for (const blob of ref.blobs) {
    const blobRes = await client.request('GET', `/v2/${ref.repository}/blobs/${blob.digest}`);
    await expectStatus(blobRes, 200);
    const bytes = Buffer.from(await blobRes.arrayBuffer());
    if (digestOf(bytes) !== blob.digest || bytes.length !== blob.size) {
      throw new Error(
        `blob ${blob.digest} of ${ref.repository}: got ${bytes.length} bytes hashing to ${digestOf(bytes)}`,
      );
    }
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function startLoad(options: LoadOptions): LoadGenerator {
  const t0 = Date.now();
  const opTimeoutMs = options.opTimeoutMs ?? 60_000;
  const pauseMs = options.pauseMs ?? 50;
  const maxOperations = options.maxOperations ?? Number.MAX_SAFE_INTEGER;
  const records: OperationRecord[] = [];
  const pushed: PushedRef[] = [];
  let stopped = false;
  let started = 0;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const shouldGo = () => !stopped && Date.now() - t0 < options.maxDurationMs && started < maxOperations;

  const record = async (kind: OperationKind, worker: string, work: () => Promise<void>) => {
    started++;
    const startedAt = Date.now();
    const entry: OperationRecord = {
      kind,
      worker,
      startedAt: startedAt - t0,
      at: startedAt,
      durationMs: 0,
      ok: true,
    };
    try {
      await withTimeout(work(), opTimeoutMs);
    } catch (err) {
      entry.ok = false;
      entry.error = describe(err);
    }
    entry.durationMs = Date.now() - startedAt;
    records.push(entry);
  };

  const pusher = async (index: number) => {
    const worker = `${options.label ?? 'load'}-push-${index}`;
    const client = options.client();
    const repository = `${options.repositoryPrefix}/push-${index}`;
    let n = 0;
    while (shouldGo()) {
      n++;
      const tag = `t${n}`;
      await record('push', worker, async () => {
        const ref = await pushSmallImage(client, repository, tag, {
          ...(options.layerBytes !== undefined && { layerBytes: options.layerBytes }),
          session: n % 2 === 0,
        });
        pushed.push(ref);
        markReady();
      });
      await sleep(pauseMs);
    }
  };

  const puller = async (index: number) => {
    const worker = `${options.label ?? 'load'}-pull-${index}`;
    const client = options.client();
    await Promise.race([ready, sleep(options.maxDurationMs)]);
    let n = 0;
    while (shouldGo()) {
      n++;
      const ref = pushed[(n * 7919 + index) % pushed.length];
      if (ref) await record('pull', worker, () => pullAndVerify(client, ref));
      await sleep(pauseMs);
    }
  };

  const workers = [
    ...Array.from({ length: options.pushers }, (_, i) => pusher(i + 1)),
    ...Array.from({ length: options.pullers }, (_, i) => puller(i + 1)),
  ];
  if (options.pushers === 0) markReady();
  const done = Promise.all(workers);

  const stats = (): LoadStats => {
    const failures = records.filter((r) => !r.ok);
    const count = (kind: OperationKind, ok: boolean) =>
      records.filter((r) => r.kind === kind && r.ok === ok).length;
    return {
      total: records.length,
      failed: failures.length,
      pushes: { ok: count('push', true), failed: count('push', false) },
      pulls: { ok: count('pull', true), failed: count('pull', false) },
      maxDurationMs: records.reduce((max, r) => Math.max(max, r.durationMs), 0),
      failures,
      records: [...records],
    };
  };
  return {
    ready,
    stats,
    async stop() {
      stopped = true;
      await done;
      return stats();
    },
  };
}

/** One line for the test output: `NAME: N operations (P pushes, Q pulls), F failed`. */
export function summarize(name: string, stats: LoadStats): string {
  return (
    `${name}: ${stats.total} operations (${stats.pushes.ok + stats.pushes.failed} pushes, ` +
    `${stats.pulls.ok + stats.pulls.failed} pulls), ${stats.failed} failed, slowest ${stats.maxDurationMs} ms`
  );
}

/**
 * Waits until the load has finished `count` pushes and `count` pulls (whatever their outcome)
 * that started at `since` (a Date.now() value) or later: the load has run through whatever the
 * test does meanwhile, measured in operations rather than in time.
 */
export async function operationsFinished(
  load: LoadGenerator,
  count: number,
  since = 0,
  timeoutMs = 120_000,
): Promise<void> {
  const finished = (kind: OperationKind) =>
    load.stats().records.filter((r) => r.kind === kind && r.at >= since).length;
  await waitFor(
    () => `${count} pushes and ${count} pulls (so far ${finished('push')} and ${finished('pull')})`,
    async () => finished('push') >= count && finished('pull') >= count,
    timeoutMs,
    50,
  );
}
