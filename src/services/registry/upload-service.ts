import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { isDigestAlgorithm, type Digest, type DigestAlgorithm } from '../../domain/digest.js';
import { RegistryError } from '../../domain/errors.js';
import type { EventActor } from '../../domain/events.js';
import { nativeHasher, resumableHasher, type StreamHasher } from '../../domain/hashing.js';
import { commitBlob } from '../../metadata/blobs-table.js';
import { holdBlobsShared } from '../../metadata/blob-guard.js';
import { unlessDataPurged, unlessPurged } from './upload-purged.js';
import { recordQuotaRefusal, requireQuotaRoom } from '../quotas/quota-guard.js';
import { ensureRepository, lockRepositoryForShare } from '../../metadata/repositories-table.js';
import type { Queryable } from '../../metadata/database.js';
import {
  advanceUploadSession,
  countOwnedUploadSessions,
  createUploadSession,
  createUploadSessionByName,
  deleteUploadSession,
  findUploadSession,
  lockUploadSession,
  lockUploadOwner,
  type UploadSessionRow,
} from '../../metadata/uploads-table.js';
import { StorageLimitError, StorageRangeError } from '../../storage/driver.js';
import { blobKey, uploadDataKey, uploadPrefix } from '../../storage/paths.js';
import { isSystemReplication, principalName, type Principal } from '../principal.js';
import type { RegistryDeps } from './deps.js';
import { requireDigest, requireRepositoryName } from './validate.js';

// Blob uploads. The bytes of a session live in storage under its id; the session row holds the
// committed offset and the hash state that covers exactly those bytes, so any instance can take
// the next chunk or finish the upload. The row, not the file, says how many bytes count: bytes a
// crashed writer left beyond the offset are discarded by the next write.

export interface UploadStatus {
  id: string;
  repository: string;
  /** Bytes received so far. */
  offset: number;
}

export interface ChunkInput {
  body: Readable;
  /** From Content-Range `start-end`, when the client sent one. */
  range?: { start: number; end: number };
  /** From Content-Length, when known. */
  length?: number;
}

/**
 * Counts and hashes bytes on their way to storage. Past `maxBytes` it fails the stream, so a
 * body larger than the blob size limit is cut off as it arrives, not after it was stored.
 */
class HashingCounter extends Transform {
  bytes = 0;
  tooLarge = false;
  constructor(
    private readonly hasher: StreamHasher,
    private readonly maxBytes: number,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      this.tooLarge = true;
      done(new Error('the blob size limit was exceeded'));
      return;
    }
    this.hasher.update(chunk);
    done(null, chunk);
  }
}

/** source → hashing counter, with a source failure (client hung up) failing the counter too. */
function hashThrough(source: Readable, hasher: StreamHasher, maxBytes = Infinity): HashingCounter {
  const counter = new HashingCounter(hasher, maxBytes);
  // The storage write consuming the counter sees its failure (and the caller reads tooLarge);
  // a second 'error' emitted after that consumer let go must not become an uncaught exception.
  counter.on('error', () => undefined);
  source.once('error', (err) => counter.destroy(err));
  source.once('aborted', () => counter.destroy(new Error('request aborted')));
  source.pipe(counter);
  return counter;
}

/**
 * Whose upload sessions a caller's count against: the account, however it signed in (a user's
 * Basic credentials and the bearer tokens issued to it count as one). This registry's own
 * replication counts against no one.
 */
export function uploadOwner(principal: Principal): string | null {
  return isSystemReplication(principal) ? null : principalName(principal);
}

export class UploadService {
  constructor(private readonly deps: RegistryDeps) {}

  /**
   * Opens a session. `digestAlgorithm` (from the `digest-algorithm` parameter) picks the hash.
   * `owner` names who opens it (see uploadOwner); an owner holding the most open sessions allowed
   * is refused (DENIED) until it finishes or cancels one, or the janitor purges one.
   */
  async start(
    repository: string,
    digestAlgorithm?: string,
    owner: string | null = null,
  ): Promise<UploadStatus> {
    requireRepositoryName(repository);
    const algorithm = this.requireAlgorithm(digestAlgorithm);
    const id = randomUUID();
    const limit = this.deps.limits.maxUploadSessionsPerOwner ?? 0;
    if (owner !== null && limit > 0) {
      await this.deps.db.transaction(async (tx) => {
        await lockUploadOwner(tx, owner);
        if ((await countOwnedUploadSessions(tx, owner)) >= limit) {
          throw new RegistryError(
            'DENIED',
            `${owner} already has ${limit} open upload sessions, the most allowed; finish or cancel one first`,
          );
        }
        await this.createSession(tx, id, repository, algorithm, owner);
      });
    } else {
      await this.createSession(this.deps.db, id, repository, algorithm, owner);
    }
    return { id, repository, offset: 0 };
  }

  private async createSession(
    db: Queryable,
    id: string,
    repository: string,
    algorithm: DigestAlgorithm,
    owner: string | null,
  ): Promise<void> {
    // One statement when the repository exists (every push but a repository's first).
    if (!(await createUploadSessionByName(db, id, repository, algorithm, owner))) {
      const repo = await ensureRepository(db, repository);
      await createUploadSession(db, id, repo.id, algorithm, owner);
    }
  }

  /** The blob size limit in bytes; Infinity when there is none. */
  private get maxBlobBytes(): number {
    const max = this.deps.limits.maxBlobBytes ?? 0;
    return max > 0 ? max : Infinity;
  }

  /** Refuses a blob that would end past the size limit (413 SIZE_INVALID). */
  private checkBlobSize(totalBytes: number): void {
    if (totalBytes > this.maxBlobBytes) throw this.tooLarge();
  }

  private tooLarge(): RegistryError {
    return new RegistryError(
      'SIZE_INVALID',
      `the blob is larger than this registry's limit of ${this.maxBlobBytes} bytes`,
      undefined,
      413,
    );
  }

  async status(repository: string, id: string): Promise<UploadStatus> {
    const session = await this.load(repository, id);
    return { id, repository, offset: session.byte_offset };
  }

  /** PATCH: appends one chunk (or the whole stream). Returns the new offset and the bytes added. */
  async append(
    repository: string,
    id: string,
    chunk: ChunkInput,
  ): Promise<UploadStatus & { received: number }> {
    const session = await this.load(repository, id);
    const written = await this.write(session, chunk).catch((err: unknown) =>
      unlessPurged(err, () => this.exists(repository, id)),
    );
    return {
      id,
      repository,
      offset: written.byte_offset,
      received: written.byte_offset - session.byte_offset,
    };
  }

  /** PUT: optional last chunk, then verify the digest and commit the blob. */
  async finish(
    repository: string,
    id: string,
    digestValue: string | undefined,
    chunk?: ChunkInput,
    /** Who uploads: named in a quota refusal's event. */
    actor?: EventActor,
  ): Promise<Digest> {
    if (!digestValue) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required');
    const expected = requireDigest(digestValue);
    const session = await this.load(repository, id);
    await this.verifyAndCommit(session, expected, chunk, actor).catch((err: unknown) =>
      unlessPurged(err, () => this.exists(repository, id)),
    );
    return expected;
  }

  private async verifyAndCommit(
    loaded: UploadSessionRow,
    expected: Digest,
    chunk: ChunkInput | undefined,
    actor: EventActor | undefined,
  ): Promise<void> {
    // The last chunk's new offset need not be saved: the commit deletes the session anyway, and
    // if it never comes, the next write starts again at the saved offset.
    const session = chunk ? await this.write(loaded, chunk, false) : loaded;
    const actualHex = await this.digestOf(session, expected.algorithm);
    if (actualHex !== expected.hex) {
      throw new RegistryError(
        'DIGEST_INVALID',
        `uploaded content has digest ${expected.algorithm}:${actualHex}, not ${expected.value}`,
      );
    }
    await this.commit(session, expected, actor);
  }

  private async exists(repository: string, id: string): Promise<boolean> {
    return (await findUploadSession(this.deps.db, repository, id)) !== null;
  }

  /** POST with ?digest=: the whole blob in one request, no session row needed. */
  async uploadMonolithic(
    repository: string,
    digestValue: string,
    body: Readable,
    length?: number,
    actor?: EventActor,
  ): Promise<Digest> {
    requireRepositoryName(repository);
    const expected = requireDigest(digestValue);
    // A declared length is checked before the body is read; an undeclared one as it arrives.
    if (length !== undefined) this.checkBlobSize(length);
    const id = randomUUID();
    const key = uploadDataKey(id);
    try {
      const hasher = nativeHasher(expected.algorithm);
      const counter = hashThrough(body, hasher, this.maxBlobBytes);
      try {
        await this.deps.storage.write(key, counter);
      } catch (err) {
        if (counter.tooLarge) throw this.tooLarge();
        unlessDataPurged(err);
      }
      // pipe() does not forward source errors; a client that hung up must not commit a short blob.
      if (body.errored || (length !== undefined && counter.bytes !== length)) {
        throw new RegistryError(
          'SIZE_INVALID',
          `received ${counter.bytes} bytes, Content-Length said ${length}`,
        );
      }
      const actualHex = hasher.digestHex();
      if (actualHex !== expected.hex) {
        throw new RegistryError(
          'DIGEST_INVALID',
          `uploaded content has digest ${expected.algorithm}:${actualHex}, not ${expected.value}`,
        );
      }
      // Bytes first, then the rows that make them visible, with GC kept off the digest.
      const committed = this.deps.db.transaction(async (tx) => {
        const repo = await ensureRepository(tx, repository);
        await lockRepositoryForShare(tx, repo.id);
        await holdBlobsShared(tx, [expected.value]);
        const blobs = [{ digest: expected.value, size: counter.bytes }];
        await requireQuotaRoom(tx, { repository, blobs, actor });
        await this.storeBlob(key, expected);
        await commitBlob(tx, repo.id, expected.value, counter.bytes, null);
      });
      await committed.catch(recordQuotaRefusal(this.deps.db)).catch(unlessDataPurged);
      return expected;
    } finally {
      await this.deps.storage.deletePrefix(uploadPrefix(id)).catch(() => undefined);
    }
  }

  /** DELETE: cancels the session and removes its bytes. */
  async cancel(repository: string, id: string): Promise<void> {
    const session = await this.load(repository, id);
    await deleteUploadSession(this.deps.db, session.id);
    await this.deps.storage.deletePrefix(uploadPrefix(session.id));
  }

  private requireAlgorithm(value: string | undefined): DigestAlgorithm {
    if (value === undefined) return 'sha256';
    if (!isDigestAlgorithm(value)) {
      throw new RegistryError(
        'UNSUPPORTED',
        `unsupported digest algorithm "${value.slice(0, 40)}"`,
        undefined,
        400,
      );
    }
    return value;
  }

  private async load(repository: string, id: string): Promise<UploadSessionRow> {
    requireRepositoryName(repository);
    // Session ids are UUIDs we generated; anything else cannot be a session (and must not reach SQL).
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id.slice(0, 64)} is not known`);
    }
    const session = await findUploadSession(this.deps.db, repository, id);
    if (!session)
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is not known in ${repository}`);
    return session;
  }

  /**
   * Writes a chunk at the session's offset and advances the session. A chunk that continues an
   * upload uses the resumable hasher (state saved in the row); a single stream from offset 0 with
   * no Content-Range (what mainstream clients send) uses the native one and records its digest.
   */
  private async write(
    session: UploadSessionRow,
    chunk: ChunkInput,
    persist = true,
  ): Promise<UploadSessionRow> {
    const offset = session.byte_offset;
    if (chunk.range) {
      if (chunk.range.start !== offset) {
        throw new RegistryError(
          'RANGE_INVALID',
          `chunk starts at ${chunk.range.start} but the upload has ${offset} bytes`,
          { offset },
        );
      }
      if (chunk.range.end < chunk.range.start) {
        throw new RegistryError('RANGE_INVALID', 'Content-Range end is before its start', { offset });
      }
      const rangeLength = chunk.range.end - chunk.range.start + 1;
      if (chunk.length !== undefined && chunk.length !== rangeLength) {
        throw new RegistryError('SIZE_INVALID', 'Content-Length does not match Content-Range', { offset });
      }
      this.checkBlobSize(chunk.range.end + 1);
    }
    if (chunk.length !== undefined) this.checkBlobSize(offset + chunk.length);
    const algorithm = this.sessionAlgorithm(session);
    const streamedFromStart = offset === 0 && !chunk.range;
    const hasher = streamedFromStart ? nativeHasher(algorithm) : await this.resumeHasher(session, algorithm);
    const counter = hashThrough(chunk.body, hasher, this.maxBlobBytes - offset);
    let size: number;
    try {
      size = await this.deps.storage.writeAt(uploadDataKey(session.id), offset, counter);
      if (chunk.body.errored) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', 'the request body was interrupted', { offset });
      }
    } catch (err) {
      // The bytes past the limit were not counted: the session keeps its offset, and the next
      // write cuts off whatever of this chunk reached storage.
      if (counter.tooLarge) throw this.tooLarge();
      if (chunk.body.errored || (counter.destroyed && !counter.writableFinished)) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', 'the request body was interrupted', { offset });
      }
      if (err instanceof StorageLimitError)
        throw new RegistryError('BLOB_UPLOAD_INVALID', err.message, { offset });
      if (err instanceof StorageRangeError) {
        throw new RegistryError('RANGE_INVALID', 'stored upload data is shorter than the session offset', {
          offset,
        });
      }
      throw err;
    }
    const expectedLength = chunk.range ? chunk.range.end - chunk.range.start + 1 : chunk.length;
    if (expectedLength !== undefined && counter.bytes !== expectedLength) {
      throw new RegistryError('SIZE_INVALID', `received ${counter.bytes} bytes, expected ${expectedLength}`, {
        offset,
      });
    }
    if (size !== offset + counter.bytes) {
      throw new Error(`storage reported ${size} bytes after writing ${counter.bytes} at ${offset}`);
    }
    const saved = hasher.saveState();
    const state = saved ? Buffer.from(saved) : null;
    const hashedDigest = state ? null : `${algorithm}:${hasher.digestHex()}`;
    const advanced =
      !persist || (await advanceUploadSession(this.deps.db, session.id, offset, size, state, hashedDigest));
    if (!advanced) {
      throw new RegistryError('RANGE_INVALID', 'another request wrote to this upload at the same time', {
        offset,
      });
    }
    return { ...session, byte_offset: size, hash_state: state, hashed_digest: hashedDigest };
  }

  private sessionAlgorithm(session: UploadSessionRow): DigestAlgorithm {
    return isDigestAlgorithm(session.hash_algorithm) ? session.hash_algorithm : 'sha256';
  }

  /** A resumable hasher covering the session's first byte_offset bytes. */
  private async resumeHasher(session: UploadSessionRow, algorithm: DigestAlgorithm): Promise<StreamHasher> {
    if (session.hash_state) return resumableHasher(algorithm, session.hash_state);
    const hasher = await resumableHasher(algorithm);
    // No saved state (the earlier bytes came as one native-hashed stream): re-read them once.
    if (session.byte_offset > 0) await this.hashStored(session, hasher);
    return hasher;
  }

  private async hashStored(session: UploadSessionRow, hasher: StreamHasher): Promise<void> {
    const stream = await this.deps.storage.read(uploadDataKey(session.id), {
      offset: 0,
      length: session.byte_offset,
    });
    for await (const piece of stream) hasher.update(piece as Buffer);
  }

  /** The digest of the session's bytes: from the row when they were hashed on arrival, else re-read. */
  private async digestOf(session: UploadSessionRow, algorithm: DigestAlgorithm): Promise<string> {
    if (session.hashed_digest?.startsWith(`${algorithm}:`))
      return session.hashed_digest.slice(algorithm.length + 1);
    if (session.hash_state && this.sessionAlgorithm(session) === algorithm) {
      return (await resumableHasher(algorithm, session.hash_state)).digestHex();
    }
    if (session.byte_offset === 0) return nativeHasher(algorithm).digestHex();
    const hasher = nativeHasher(algorithm);
    await this.hashStored(session, hasher);
    return hasher.digestHex();
  }

  private async commit(session: UploadSessionRow, digest: Digest, actor?: EventActor): Promise<void> {
    // Under the blob's lock (shared with other writers, exclusive to GC): bytes found at the
    // blob's key cannot be deleted before the row that protects them commits.
    const committed = this.deps.db.transaction(async (tx) => {
      // Lock order of every blob write: repository, (session), blob, quota row.
      await lockRepositoryForShare(tx, session.repository_id);
      // A purge waits for this commit (and then finds the session gone), or went first.
      if (!(await lockUploadSession(tx, session.id))) {
        throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${session.id} is not known`);
      }
      await holdBlobsShared(tx, [digest.value]);
      const blobs = [{ digest: digest.value, size: session.byte_offset }];
      await requireQuotaRoom(tx, { repository: session.repository_name, blobs, actor });
      await this.storeBlob(uploadDataKey(session.id), digest, session.byte_offset);
      await commitBlob(tx, session.repository_id, digest.value, session.byte_offset, session.id);
    });
    await committed.catch(recordQuotaRefusal(this.deps.db));
    await this.deps.storage.deletePrefix(uploadPrefix(session.id)).catch(() => undefined);
  }

  /** Puts verified bytes at the blob's key, unless that digest is already stored (dedup). */
  private async storeBlob(key: string, digest: Digest, expectedSize?: number): Promise<void> {
    // Bytes only ever reach a blob key after their digest was verified, so bytes already there
    // are this blob: keep them (concurrent pushes of one layer move identical bytes anyway, and
    // a PUT retried after a commit that failed half-way finds its bytes moved already).
    if (await this.deps.storage.stat(blobKey(digest))) return;
    // The digest comes from the hash state saved with the offset. Two writers racing on one
    // offset (a client's retry sent while the first try still ran, on another instance) can leave
    // fewer bytes in storage than the row counts: never let those become a blob under that digest.
    if (expectedSize !== undefined) {
      const stored = (await this.deps.storage.stat(key))?.size ?? 0;
      if (stored !== expectedSize) {
        throw new RegistryError(
          'BLOB_UPLOAD_INVALID',
          `the upload's stored data (${stored} bytes) does not match its offset (${expectedSize}); start the upload again`,
        );
      }
    }
    await this.deps.storage.move(key, blobKey(digest));
  }
}
