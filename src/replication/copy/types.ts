import type { PutManifestAnswer, RemoteRegistry } from '../../remote/index.js';

// What the job layer asks of the copy engine, and what it gets back.

export interface CopyEndpoint {
  registry: RemoteRegistry;
  repository: string;
}

export interface CopyRequest {
  source: CopyEndpoint & {
    /** A tag or a digest. */
    reference: string;
  };
  destination: CopyEndpoint & {
    /** The tag to set once the artifact is complete; without it the artifact arrives by digest only. */
    tag?: string;
    /** Headers sent with the tag's write only (a Wharf destination reads the origin push time there). */
    tagHeaders?: Record<string, string>;
  };
  options?: CopyOptions;
}

export interface CopyOptions {
  /** Harbor's `speed`: KB/s (1 KB = 1024 bytes) over all blob streams of this copy; 0 = no limit. */
  speedKbps?: number;
  /** Move a destination tag that points at another digest (default true); false skips and says so. */
  override?: boolean;
  /** Copy the source's referrers (signatures, SBOMs) of every copied manifest (default true). */
  copyReferrers?: boolean;
  /** Repositories on the destination that may already hold the blobs: mounted instead of uploaded. */
  mountFrom?: readonly string[];
  /**
   * More candidates for one blob the destination lacks, asked only then (the repositories the
   * caller knows hold that blob at the destination), tried after mountFrom. A failure to answer
   * only means no more candidates.
   */
  mountCandidates?: (digest: string, signal?: AbortSignal) => Promise<readonly string[]>;
  /** At most this many mounts tried per blob (default 3): each refusal costs a request. */
  maxMountAttempts?: number;
  /**
   * Asked right before the tag is written, after everything else arrived: false leaves the tag
   * alone (the result says tagSkipped). Two-way replication checks here that no later push
   * reached the destination while the copy ran.
   */
  beforeTag?: () => Promise<boolean>;
  /** Stops the copy: open streams are destroyed, waits cut short; the copy rejects as `aborted`. */
  signal?: AbortSignal;
  /** One line per step worth a task log (no credentials in them). */
  log?: (line: string) => void;
  /**
   * Harbor's copy_by_chunk. Off (the default): each blob goes as one streamed PATCH, which the
   * destination can hash natively as it arrives (Wharf does; an interrupted blob is sent again).
   * On: PATCHes of chunkBytes with Content-Range, so an interruption costs at most one chunk,
   * at the price of the destination keeping a resumable hash (much slower on Wharf).
   */
  byChunk?: boolean;
  /** With byChunk, bytes per PATCH: what an interruption may cost at most (default 16 MiB). */
  chunkBytes?: number;
  /** Blobs of one image transferred at the same time (default 3). */
  concurrency?: number;
  /** Attempts per blob without progress before giving up (default 5). */
  attempts?: number;
  /** First backoff between attempts, doubled each time (default 500 ms, at most 10 s). */
  backoffMs?: number;
  /** Referrers of referrers, how deep (default 3; 0 = the subject's own referrers only). */
  referrerDepth?: number;
}

export interface CopyResult {
  /** The digest of the copied artifact (also when it was skipped). */
  digest: string;
  mediaType: string;
  manifestsCopied: number;
  /** Present on the destination already (by digest). */
  manifestsSkipped: number;
  blobsCopied: number;
  blobsSkipped: number;
  blobsMounted: number;
  /** Blob bytes sent to the destination, counting those sent again after an interruption. */
  bytesSent: number;
  referrersCopied: number;
  /** The destination tag was set (or already pointed at the digest). */
  tagged: boolean;
  /** override=false and the destination tag pointed at another digest, or beforeTag said no. */
  tagSkipped: boolean;
  /** The destination's answer to the tag's write; null when no tag was written. */
  tagAnswer: PutManifestAnswer | null;
  /** Uploads continued from the destination's offset after an interrupted chunk. */
  resumes: number;
  /** Uploads started again from zero (the destination could not resume). */
  restarts: number;
}

export const DEFAULTS = {
  chunkBytes: 16 * 1024 * 1024,
  concurrency: 3,
  attempts: 5,
  backoffMs: 500,
  maxBackoffMs: 10_000,
  referrerDepth: 3,
  maxMountAttempts: 3,
} as const;
