import { bucketForSpeed, type TokenBucket } from './token-bucket.js';
import { DEFAULTS, type CopyEndpoint, type CopyRequest, type CopyResult } from './types.js';

// The state of one copy: both ends, the settings with their defaults, the shared bandwidth
// bucket, the counters of the result, and what was already done (a blob shared by two children
// of an index is copied once, a manifest reached twice is visited once).

export type Counters = Omit<CopyResult, 'digest' | 'mediaType' | 'tagged' | 'tagSkipped' | 'tagAnswer'>;

export interface Settings {
  byChunk: boolean;
  chunkBytes: number;
  concurrency: number;
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  referrerDepth: number;
  copyReferrers: boolean;
  override: boolean;
}

export class CopyContext {
  readonly source: CopyEndpoint;
  readonly destination: CopyEndpoint;
  readonly signal: AbortSignal | undefined;
  readonly settings: Settings;
  readonly bucket: TokenBucket | null;
  /** Destination repositories to try a mount from, in order. */
  readonly mountFrom: readonly string[];
  /** Per-blob candidates (CopyOptions.mountCandidates), and how many mounts to try per blob. */
  readonly candidatesFor: ((digest: string, signal?: AbortSignal) => Promise<readonly string[]>) | undefined;
  readonly maxMounts: number;
  readonly counts: Counters = {
    manifestsCopied: 0,
    manifestsSkipped: 0,
    blobsCopied: 0,
    blobsSkipped: 0,
    blobsMounted: 0,
    bytesSent: 0,
    referrersCopied: 0,
    resumes: 0,
    restarts: 0,
  };
  /** Blob digest → its copy (in flight or done). */
  readonly blobs = new Map<string, Promise<void>>();
  /** Manifest digests already handled (copied or found present). */
  readonly manifests = new Set<string>();
  readonly #log: (line: string) => void;

  constructor(request: CopyRequest) {
    const options = request.options ?? {};
    this.source = { registry: request.source.registry, repository: request.source.repository };
    this.destination = { registry: request.destination.registry, repository: request.destination.repository };
    this.signal = options.signal;
    this.settings = {
      byChunk: options.byChunk ?? false,
      chunkBytes: positive(options.chunkBytes, DEFAULTS.chunkBytes),
      concurrency: positive(options.concurrency, DEFAULTS.concurrency),
      attempts: positive(options.attempts, DEFAULTS.attempts),
      backoffMs:
        options.backoffMs !== undefined && options.backoffMs >= 0 ? options.backoffMs : DEFAULTS.backoffMs,
      maxBackoffMs: DEFAULTS.maxBackoffMs,
      referrerDepth: options.referrerDepth ?? DEFAULTS.referrerDepth,
      copyReferrers: options.copyReferrers ?? true,
      override: options.override ?? true,
    };
    this.bucket = bucketForSpeed(options.speedKbps);
    this.mountFrom = mountCandidates(request, options.mountFrom ?? []);
    this.candidatesFor = options.mountCandidates;
    this.maxMounts = positive(options.maxMountAttempts, DEFAULTS.maxMountAttempts);
    this.#log = options.log ?? (() => undefined);
  }

  log(line: string): void {
    try {
      this.#log(line);
    } catch {
      // A failing log sink must not fail the copy.
    }
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 1 ? Math.floor(value) : fallback;
}

/**
 * The caller's candidates, then the source repository itself when both ends are one registry (a
 * copy between two repositories of one registry then moves no bytes at all).
 */
function mountCandidates(request: CopyRequest, given: readonly string[]): string[] {
  const target = request.destination.repository;
  const sameRegistry =
    request.source.registry === request.destination.registry ||
    request.source.registry.url === request.destination.registry.url;
  const all = sameRegistry ? [...given, request.source.repository] : [...given];
  return [...new Set(all)].filter((name) => name !== target);
}

/** Short digest for log lines. */
/** `repository:tag` for a tag, `repository@digest` for a digest (a tag never holds a colon). */
export function referenceText(repository: string, reference: string): string {
  return `${repository}${reference.includes(':') ? '@' : ':'}${reference}`;
}

export function short(digest: string): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest : digest.slice(0, colon + 13);
}
