import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Config } from '../config/schema.js';
import { copyFromStream } from './copy.js';
import { MultipartParts } from './s3-multipart.js';
import {
  assertOffset,
  assertValidKey,
  isValidKey,
  resolveRange,
  StorageNotFoundError,
  StorageLimitError,
  StorageRangeError,
  type ByteRange,
  type ObjectCopy,
  type ObjectInfo,
  type StorageDriver,
} from './driver.js';
import {
  assembleAppendable,
  FIRST_SEGMENT,
  piecesInRange,
  SEGMENTS,
  segmentName,
  segmentOffset,
  take,
  type Appendable,
  type Piece,
  type Segment,
} from './s3-segments.js';

// Keys are objects of one bucket, below root_directory. S3 has no append, so an appendable object
// (writeAt, the bytes of an upload session) is a run of segment objects, one per writeAt call,
// stored under `<key>/.appendable/<offset>` (see s3-segments.ts). No valid key has a segment
// starting with '.', so segments can never be named, listed or overwritten as keys, and a
// deletePrefix of the upload's prefix removes them with everything else.
//
// A plain object and segments may both exist under one key for a moment (a move or write onto an
// appendable key, a writeAt onto a plain one, interrupted by a crash): the plain object is then
// the key's content, so every switch between the two forms writes the new form first and deletes
// the old one after. A crash at any instant leaves either the old content or the new one visible.

const MiB = 1024 * 1024;
/** S3's minimum size of every multipart part but the last. */
const MIN_PART = 5 * MiB;
/** S3's maximum size of one part, and of one CopyObject. */
const MAX_PART = 5 * 1024 * MiB;
/** S3's maximum of keys per DeleteObjects and per ListObjectsV2 page. */
const BATCH = 1000;

export interface S3DriverOptions {
  /**
   * Whether the server may copy byte ranges itself (UploadPartCopy) when upload segments are
   * assembled. Off, every byte goes through this process instead; for servers without it.
   */
  partCopy?: boolean;
  /** Keys per ListObjectsV2 page (at most 1000): smaller in tests, to exercise pagination. */
  listPageSize?: number;
  /** Chunks one upload may have (at most S3's 10,000 parts): smaller in tests. */
  maxSegments?: number;
}

/** A StorageDriver on an S3 bucket (AWS S3 or an S3-compatible server). */
/** Chunks of one upload (one object each); S3 allows 10,000 parts in the upload that commits them. */
const MAX_SEGMENTS = 10_000;

export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly #client: S3Client;
  readonly #bucket: string;
  /** '' or `<root_directory>/`: prepended to every key. */
  readonly #root: string;
  readonly #partSize: number;
  readonly #pageSize: number;
  #partCopy: boolean;

  /** Reads secret_key_file synchronously, once: the secret is needed to sign every request. */
  readonly #maxSegments: number;
  constructor(config: S3Config, options: S3DriverOptions = {}) {
    this.#bucket = config.bucket;
    this.#root = config.root_directory === undefined ? '' : `${config.root_directory}/`;
    this.#partSize = config.multipart_chunk_size;
    this.#pageSize = Math.min(BATCH, Math.max(1, options.listPageSize ?? BATCH));
    this.#partCopy = options.partCopy ?? true;
    this.#maxSegments = Math.min(MAX_SEGMENTS, Math.max(1, options.maxSegments ?? MAX_SEGMENTS));
    const secret =
      config.secret_key ??
      (config.secret_key_file === undefined
        ? undefined
        : readFileSync(config.secret_key_file, 'utf8').trim());
    // Many downloads stream at once, each holding a socket for as long as its client reads: the
    // SDK's default of 50 sockets would queue blob reads behind slow clients.
    const agent = { keepAlive: true, maxSockets: 512 };
    this.#client = new S3Client({
      region: config.region,
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
      forcePathStyle: config.path_style,
      ...(config.access_key !== undefined && secret !== undefined
        ? { credentials: { accessKeyId: config.access_key, secretAccessKey: secret } }
        : {}),
      // The SDK's default CRC32 on every upload is not understood by every S3-compatible server,
      // and buys nothing here: the registry verifies the digest of every blob it stores.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: 10_000,
        httpAgent: new HttpAgent(agent),
        httpsAgent: new HttpsAgent(agent),
      },
    });
  }

  /** Closes the client's idle sockets. Not part of StorageDriver; for tests and shutdown. */
  close(): void {
    this.#client.destroy();
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const objectKey = this.#objectKey(key);
    const plain = await this.#head(objectKey);
    if (plain) return plain;
    const appendable = await this.#appendable(objectKey);
    return appendable && { size: appendable.size, modifiedAt: appendable.modifiedAt };
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    return (await this.#open(key, range)).stream;
  }

  async openCopy(key: string, range?: ByteRange): Promise<ObjectCopy> {
    const { stream, length } = await this.#open(key, range);
    return copyFromStream(stream, length);
  }

  /** Starts reading, so that a missing key or a bad range fails here and not in the stream. */
  async #open(key: string, range?: ByteRange): Promise<{ stream: Readable; length: number }> {
    const objectKey = this.#objectKey(key);
    // Malformed ranges fail before any request; whether the range fits needs the size.
    resolveRange(range, Number.MAX_SAFE_INTEGER);
    const plain = await this.#openPlain(objectKey, range?.offset ?? 0, range?.length);
    if (plain) return plain;
    const appendable = await this.#appendable(objectKey);
    if (!appendable) throw new StorageNotFoundError(key);
    const { start, end } = resolveRange(range, appendable.size);
    const pieces = piecesInRange(appendable.pieces, start, end);
    return { stream: Readable.from(this.#readPieces(pieces), { objectMode: false }), length: end - start };
  }

  /**
   * One GET for a plain object, the blob download path: its response tells the size, so no HEAD
   * is needed first. Null when no plain object has the key.
   */
  async #openPlain(
    objectKey: string,
    offset: number,
    length: number | undefined,
  ): Promise<{ stream: Readable; length: number } | null> {
    const empty = async () => {
      // HTTP cannot ask for zero bytes, and a range starting at the end is refused (416) although
      // this interface allows it: the size decides.
      const info = await this.#head(objectKey);
      if (!info) return null;
      resolveRange({ offset, length }, info.size);
      return { stream: Readable.from([], { objectMode: false }), length: 0 };
    };
    if (length === 0) return empty();
    const whole = offset === 0 && length === undefined;
    let response: GetObjectCommandOutput;
    try {
      response = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: objectKey,
          Range: whole ? undefined : `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`,
        }),
      );
    } catch (err) {
      if (isMissingKey(err)) return null;
      if (isInvalidRange(err)) return empty();
      throw err;
    }
    const body = bodyOf(response);
    try {
      const served = servedRange(response);
      if (served.start !== offset) throw new Error(`S3 served bytes from ${served.start}, not ${offset}`);
      const { end } = resolveRange({ offset, length }, served.total);
      const wanted = end - offset;
      if (served.length < wanted) throw new Error(`S3 served ${served.length} bytes, not ${wanted}`);
      // S3 never serves more than asked, but some compatible servers answer bytes=0-0 with all.
      const stream = served.length > wanted ? Readable.from(take(body, wanted), { objectMode: false }) : body;
      return { stream, length: wanted };
    } catch (err) {
      body.destroy();
      throw err;
    }
  }

  async *#readPieces(pieces: Piece[]): AsyncGenerator<Buffer> {
    for (const piece of pieces)
      yield* take(await this.#getRange(piece.key, piece.start, piece.length), piece.length);
  }

  /** A stream of `length` (> 0) bytes of an object, from `start`. */
  async #getRange(objectKey: string, start: number, length: number): Promise<Readable> {
    const response = await this.#client.send(
      new GetObjectCommand({
        Bucket: this.#bucket,
        Key: objectKey,
        Range: `bytes=${start}-${start + length - 1}`,
      }),
    );
    return bodyOf(response);
  }

  async write(key: string, body: Readable | Uint8Array): Promise<number> {
    // Segments left under the key by an earlier writeAt stay hidden behind the new object until a
    // delete, move or writeAt of the key removes them: writes of manifests and monolithic uploads
    // (never appendable keys) need not pay a listing for them.
    return this.#put(this.#objectKey(key), body);
  }

  /**
   * Stores body as one object, atomically: lib-storage sends a small body as one PUT and a large
   * one as a multipart upload, buffering one part at a time, which S3 makes visible only when it
   * is complete. A body that fails aborts the multipart upload.
   */
  async #put(objectKey: string, body: Readable | Uint8Array): Promise<number> {
    let bytes = body instanceof Uint8Array ? body.byteLength : 0;
    let bodyError: unknown;
    async function* counted(source: Readable): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of source as AsyncIterable<Buffer | string>) {
          const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          bytes += buffer.length;
          yield buffer;
        }
      } catch (err) {
        bodyError = err;
        throw err;
      }
    }
    const upload = new Upload({
      client: this.#client,
      params: {
        Bucket: this.#bucket,
        Key: objectKey,
        Body: body instanceof Uint8Array ? body : Readable.from(counted(body), { objectMode: false }),
      },
      partSize: this.#partSize,
      // One part in flight: memory per upload stays at one part.
      queueSize: 1,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      // When the abort after a failed body fails too, lib-storage reports the abort's error; the
      // caller needs to know that its body failed.
      if (bodyError !== undefined) throw bodyError;
      throw err;
    }
    return bytes;
  }

  async writeAt(key: string, offset: number, body: Readable): Promise<number> {
    const objectKey = this.#objectKey(key);
    assertOffset(offset);
    const plain = await this.#head(objectKey);
    const listed = await this.#segments(objectKey);
    let segments: Segment[];
    if (plain) {
      assertWithin(key, offset, plain.size);
      // The plain object (a write or a move onto this key) becomes the first segment. It hides
      // the segments until it is deleted, so stale ones go first and the copy is made before the
      // plain object goes: a crash in between leaves the same bytes visible.
      await this.#deleteKeys(listed.map((s) => s.key));
      segments = [];
      if (offset > 0) {
        const first = `${this.#segmentPrefix(objectKey)}${FIRST_SEGMENT}`;
        await this.#copy(objectKey, first, plain.size);
        segments = [{ key: first, offset: 0, size: plain.size, modifiedAt: plain.modifiedAt }];
      }
      await this.#deleteKeys([objectKey]);
    } else {
      assertWithin(key, offset, assembleAppendable(listed)?.size ?? 0);
      segments = listed;
    }
    // Everything from offset on is the rest of an interrupted write (or is being rewritten). A
    // segment that starts before offset and runs past it needs no change: the new segment at
    // offset takes over from there (see assembleAppendable). Until the new segment is complete, the
    // object still has at least `offset` bytes, so the caller can retry from the same offset.
    const kept = segments.filter((s) => s.offset < offset).length;
    if (kept >= this.#maxSegments) {
      // Every chunk is one object here, and committing assembles them as parts of one multipart
      // upload, which S3 caps at 10,000: refuse before storing more than can ever be committed
      // (a client of tiny chunks would otherwise make millions of objects).
      throw new StorageLimitError(
        `an upload on S3 storage takes at most ${this.#maxSegments} chunks; send larger chunks or one stream`,
      );
    }
    await this.#deleteKeys(segments.filter((s) => s.offset >= offset).map((s) => s.key));
    const written = await this.#put(this.#segmentPrefix(objectKey) + segmentName(offset), body);
    return offset + written;
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.#objectKey(from);
    const target = this.#objectKey(to);
    const plain = await this.#head(source);
    const segments = plain ? [] : await this.#segments(source);
    const appendable = plain ? null : assembleAppendable(segments);
    if (!plain && !appendable) throw new StorageNotFoundError(from);
    // A plain object moved onto itself stays; an appendable one becomes plain, as below.
    if (plain && source === target) return;
    // The target appears whole (CopyObject and CompleteMultipartUpload are atomic in S3) before
    // anything of the source goes: a crash in between leaves both, and a retry copies again.
    if (plain) {
      await this.#copy(source, target, plain.size);
      await this.#deleteObject(source);
    } else if (appendable) {
      await this.#assemble(appendable, target);
      await this.#deleteSegments(segments);
    }
  }

  async delete(key: string): Promise<void> {
    await this.#deleteObject(this.#objectKey(key));
  }

  async deletePrefix(prefix: string): Promise<void> {
    const objectPrefix = `${this.#objectKey(prefix)}/`;
    // The segments of an object stored at the prefix itself are that object, not below it.
    const own = this.#segmentPrefix(this.#objectKey(prefix));
    let batch: string[] = [];
    for await (const object of this.#listObjects(objectPrefix)) {
      if (object.key.startsWith(own)) continue;
      batch.push(object.key);
      if (batch.length === BATCH) {
        await this.#deleteKeys(batch);
        batch = [];
      }
    }
    await this.#deleteKeys(batch);
  }

  async *list(prefix: string): AsyncGenerator<string> {
    const objectPrefix = `${this.#objectKey(prefix)}/`;
    const below = `${prefix}/`;
    for await (const object of this.#listObjects(objectPrefix)) {
      const key = object.key.slice(this.#root.length);
      const marker = key.indexOf(`/${SEGMENTS}/`);
      if (marker === -1) {
        // Names no key can have (put there by hand) are not objects of this store.
        if (isValidKey(key)) yield key;
        continue;
      }
      // An appendable object is reported through its first segment, which it cannot exist
      // without; unless a plain object hides it, which is reported by its own entry. Only
      // appendable objects (uploads in progress) pay for that HEAD, and listings come in no
      // dependable order (S3-compatible servers differ), so asking is the reliable way.
      const logical = key.slice(0, marker);
      if (key.slice(marker + SEGMENTS.length + 2) !== FIRST_SEGMENT) continue;
      if (!logical.startsWith(below) || !isValidKey(logical)) continue;
      if (await this.#head(this.#root + logical)) continue;
      yield logical;
    }
  }

  async check(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
    } catch (err) {
      const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
      const where = `S3 bucket "${this.#bucket}"`;
      if (status === 404) throw new Error(`${where} does not exist`, { cause: err });
      if (status === 403 || status === 401) {
        throw new Error(`${where}: access denied (check storage.s3.access_key and its secret key)`, {
          cause: err,
        });
      }
      throw new Error(`${where} cannot be used: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }

  #objectKey(key: string): string {
    assertValidKey(key);
    return this.#root + key;
  }

  #segmentPrefix(objectKey: string): string {
    return `${objectKey}/${SEGMENTS}/`;
  }

  async #head(objectKey: string): Promise<ObjectInfo | null> {
    try {
      const info = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: objectKey }));
      return { size: info.ContentLength ?? 0, modifiedAt: info.LastModified ?? new Date(0) };
    } catch (err) {
      if (isMissingKey(err)) return null;
      throw err;
    }
  }

  /** Every stored segment of an appendable key, in no particular order. */
  async #segments(objectKey: string): Promise<Segment[]> {
    const prefix = this.#segmentPrefix(objectKey);
    const segments: Segment[] = [];
    for await (const object of this.#listObjects(prefix)) {
      const offset = segmentOffset(object.key.slice(prefix.length));
      if (offset !== null) segments.push({ ...object, offset });
    }
    return segments;
  }

  async #appendable(objectKey: string): Promise<Appendable | null> {
    return assembleAppendable(await this.#segments(objectKey));
  }

  async *#listObjects(prefix: string): AsyncGenerator<{ key: string; size: number; modifiedAt: Date }> {
    // StartAfter rather than a continuation token: the caller may delete what it was given (list,
    // deletePrefix) and the next page still starts after the last key seen.
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: prefix,
          MaxKeys: this.#pageSize,
          ...(startAfter === undefined ? {} : { StartAfter: startAfter }),
        }),
      );
      const contents = page.Contents ?? [];
      for (const object of contents) {
        if (object.Key === undefined) continue;
        yield { key: object.Key, size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) };
      }
      const last = contents[contents.length - 1]?.Key;
      if (!page.IsTruncated || last === undefined) return;
      startAfter = last;
    }
  }

  /** Copies a whole object on the server: CopyObject up to 5 GiB, a multipart copy beyond. */
  async #copy(source: string, target: string, size: number): Promise<void> {
    if (size <= MAX_PART) {
      await this.#client.send(
        new CopyObjectCommand({ Bucket: this.#bucket, Key: target, CopySource: this.#copySource(source) }),
      );
      return;
    }
    await this.#assembleParts([{ key: source, start: 0, length: size, segmentSize: size }], target);
  }

  /** Writes the bytes of an appendable object as one plain object at target, atomically. */
  async #assemble(appendable: Appendable, target: string): Promise<void> {
    const { pieces } = appendable;
    if (pieces.length === 0) {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: target,
          Body: new Uint8Array(0),
          ContentLength: 0,
        }),
      );
      return;
    }
    const [only] = pieces;
    if (pieces.length === 1 && only && only.start === 0 && only.length === only.segmentSize) {
      await this.#copy(only.key, target, only.length);
      return;
    }
    await this.#assembleParts(pieces, target);
  }

  /**
   * A multipart upload of the pieces in order. A piece of at least 5 MiB (or the last one) becomes
   * parts copied by the server (UploadPartCopy), when no streamed bytes wait for a part; small
   * pieces (chunked clients send small chunks) are streamed into one part buffer that is sent
   * whenever it holds multipart_chunk_size bytes. Pending bytes before a large piece are topped up
   * to 5 MiB from it, so the rest of it can still be copied on the server.
   */
  async #assembleParts(pieces: Piece[], target: string): Promise<void> {
    const created = await this.#client.send(
      new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: target }),
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new Error('S3 returned no UploadId');
    const common = { Bucket: this.#bucket, Key: target, UploadId: uploadId };
    const parts = new MultipartParts({
      client: this.#client,
      bucket: this.#bucket,
      key: target,
      uploadId,
      partSize: this.#partSize,
      maxPart: MAX_PART,
      getRange: (key, start, length) => this.#getRange(key, start, length),
      copySource: (key) => this.#copySource(key),
    });
    try {
      for (const [index, piece] of pieces.entries()) {
        await this.#assemblePiece(parts, piece, index === pieces.length - 1);
      }
      await parts.complete();
    } catch (err) {
      // Best effort: a bucket lifecycle rule removes what a failed abort (or a crash) leaves.
      await this.#client.send(new AbortMultipartUploadCommand(common)).catch(() => undefined);
      throw err;
    }
  }

  /** One piece: copied on the server where it can be, else streamed into the part buffer. */
  async #assemblePiece(parts: MultipartParts, piece: Piece, isLast: boolean): Promise<void> {
    let start = piece.start;
    let left = piece.length;
    if (this.#partCopy && parts.buffered > 0 && left >= MIN_PART) {
      const topUp = Math.max(0, MIN_PART - parts.buffered);
      if (left - topUp >= MIN_PART || isLast) {
        await parts.streamIn(piece.key, start, topUp);
        await parts.flush();
        start += topUp;
        left -= topUp;
      }
    }
    if (left === 0) return;
    if (this.#partCopy && parts.buffered === 0 && (left >= MIN_PART || isLast)) {
      try {
        await parts.copyIn(piece.key, start, left);
        return;
      } catch (err) {
        if (!isNotImplemented(err)) throw err;
        // This server cannot copy ranges: stream from now on.
        this.#partCopy = false;
      }
    }
    await parts.streamIn(piece.key, start, left);
  }

  #copySource(objectKey: string): string {
    return `${this.#bucket}/${objectKey.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** Deletes the plain object and the segments under a key. */
  async #deleteObject(objectKey: string): Promise<void> {
    const segments = await this.#segments(objectKey);
    // Segments first: while the plain object exists they are hidden, and deleting it first could
    // bring leftover segments back to light.
    await this.#deleteSegments(segments);
    await this.#deleteKeys([objectKey]);
  }

  /**
   * Deletes segments, the first one (offset 0) before the others: without it the appendable
   * object no longer exists, so it vanishes at once instead of shrinking piece by piece.
   */
  async #deleteSegments(segments: Segment[]): Promise<void> {
    const first = segments.filter((s) => s.offset === 0);
    await this.#deleteKeys(first.map((s) => s.key));
    await this.#deleteKeys(segments.filter((s) => s.offset !== 0).map((s) => s.key));
  }

  async #deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH) {
      const result = await this.#client.send(
        new DeleteObjectsCommand({
          Bucket: this.#bucket,
          Delete: { Objects: keys.slice(i, i + BATCH).map((Key) => ({ Key })), Quiet: true },
        }),
      );
      const failed = result.Errors?.[0];
      if (failed) {
        throw new Error(
          `S3 could not delete ${failed.Key}: ${failed.Code ?? ''} ${failed.Message ?? ''}`.trim(),
        );
      }
    }
  }
}

function assertWithin(key: string, offset: number, size: number): void {
  if (offset > size) throw new StorageRangeError(`cannot write at ${offset}: ${key} has ${size} bytes`);
}

function bodyOf(response: GetObjectCommandOutput): Readable {
  // In Node the SDK's body is the HTTP response, a Readable.
  if (!(response.Body instanceof Readable)) throw new Error('S3 returned no body stream');
  return response.Body;
}

/** The first byte, the length and the object's total size of a GET response. */
function servedRange(response: GetObjectCommandOutput): { start: number; length: number; total: number } {
  const length = response.ContentLength ?? 0;
  if (response.ContentRange === undefined) return { start: 0, length, total: length };
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.ContentRange);
  if (!match) throw new Error(`S3 returned an unexpected Content-Range: ${response.ContentRange}`);
  return { start: Number(match[1]), length, total: Number(match[3]) };
}

function isMissingKey(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  // A missing bucket is a broken configuration, not a missing key (HEAD cannot tell them apart:
  // its answer has no body; check() does).
  if (err.name === 'NoSuchBucket') return false;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404;
}

function isInvalidRange(err: unknown): boolean {
  return (
    err instanceof S3ServiceException && (err.name === 'InvalidRange' || err.$metadata.httpStatusCode === 416)
  );
}

function isNotImplemented(err: unknown): boolean {
  return (
    err instanceof S3ServiceException &&
    (err.name === 'NotImplemented' || err.$metadata.httpStatusCode === 501)
  );
}
