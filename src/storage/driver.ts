import type { Readable, Writable } from 'node:stream';

// The storage abstraction. It knows nothing of OCI: keys are slash-separated relative paths
// made of [A-Za-z0-9._-] segments (never empty, never "." or ".."), values are byte streams.
// storage/paths.ts is the only place that maps registry content to keys.

export interface ObjectInfo {
  size: number;
  modifiedAt: Date;
}

export interface ByteRange {
  /** First byte to read. */
  offset: number;
  /** Number of bytes to read; to the end when omitted. */
  length?: number;
}

/** An opened object (or range of one), ready to be copied into a destination. */
export interface ObjectCopy {
  /** Bytes that copyTo will write. */
  readonly length: number;
  /**
   * Writes the bytes into destination (never ends it) and closes the object. Rejects when the
   * destination closes first. Call exactly once, or close() instead.
   */
  copyTo(destination: Writable): Promise<void>;
  close(): Promise<void>;
}

export interface StorageDriver {
  readonly name: string;

  /** Size and modification time, or null when the key does not exist. */
  stat(key: string): Promise<ObjectInfo | null>;

  /** A stream of the object's bytes (or of a range of them). Throws StorageNotFoundError. */
  read(key: string, range?: ByteRange): Promise<Readable>;

  /**
   * Opens the object (or a range) to copy it into a writable, the blob download path: it fails
   * (StorageNotFoundError, StorageRangeError) before anything is written, and drivers may copy
   * more cheaply than a stream can (the filesystem driver reuses a few buffers instead of
   * allocating one per chunk).
   */
  openCopy(key: string, range?: ByteRange): Promise<ObjectCopy>;

  /**
   * Writes a whole object atomically and durably: when the promise resolves the bytes are on
   * stable storage, and readers see either the previous object or the complete new one, never a
   * partial write. If body fails, nothing is written. Returns the number of bytes written.
   */
  write(key: string, body: Readable | Uint8Array): Promise<number>;

  /**
   * Writes body into an appendable object starting at byte `offset`, first discarding anything
   * stored at or after `offset` (left over from an interrupted earlier write). offset must not be
   * beyond the current size (StorageRangeError). Durable when it resolves. Returns the new size.
   * Several processes may call this for one key one after another (never concurrently).
   */
  writeAt(key: string, offset: number, body: Readable): Promise<number>;

  /** Atomically renames `from` to `to`, replacing `to`. Throws StorageNotFoundError. */
  move(from: string, to: string): Promise<void>;

  /** Deletes one object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;

  /** Deletes every object whose key starts with `prefix/`. */
  deletePrefix(prefix: string): Promise<void>;

  /** Every key under `prefix/` (recursively), in no particular order. */
  list(prefix: string): AsyncIterable<string>;

  /** Throws when the storage cannot be used (for health checks). */
  check(): Promise<void>;
}

export class StorageNotFoundError extends Error {
  constructor(key: string) {
    super(`storage key not found: ${key}`);
    this.name = 'StorageNotFoundError';
  }
}

/** The driver cannot take this write (a limit of the backend, e.g. S3's part count). */
export class StorageLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageLimitError';
  }
}

export class StorageRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageRangeError';
  }
}

const KEY_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Rejects anything that could name a location outside the driver's root. */
export function assertValidKey(key: string): void {
  const segments = key.split('/');
  if (
    key.length === 0 ||
    key.length > 1024 ||
    segments.some((s) => !KEY_SEGMENT.test(s) || s === '.' || s === '..')
  ) {
    throw new Error(`invalid storage key: ${JSON.stringify(key.slice(0, 100))}`);
  }
}

/** Whether a name is a valid key (listings skip names no key can have). */
export function isValidKey(key: string): boolean {
  try {
    assertValidKey(key);
    return true;
  } catch {
    return false;
  }
}

/**
 * The [start, end) slice of an object of `size` bytes that `range` asks for. Throws
 * StorageRangeError for a range that does not lie within the object. Every driver uses it, so
 * that they all draw the line in the same place.
 */
export function resolveRange(range: ByteRange | undefined, size: number): { start: number; end: number } {
  const start = range?.offset ?? 0;
  const end = range?.length === undefined ? size : start + range.length;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > size) {
    throw new StorageRangeError(
      `range offset ${range?.offset} length ${range?.length} is outside an object of ${size} bytes`,
    );
  }
  return { start, end };
}

export function assertOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new StorageRangeError(`invalid offset ${offset}`);
}
