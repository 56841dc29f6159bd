import type { Readable } from 'node:stream';
import { parseDigest } from '../../domain/digest.js';
import { RegistryError } from '../../domain/errors.js';
import type { EventActor } from '../../domain/events.js';
import { isRepositoryName } from '../../domain/reference.js';
import { holdBlobsShared } from '../../metadata/blob-guard.js';
import { recordQuotaRefusal, requireQuotaRoom } from '../quotas/quota-guard.js';
import { findLinkedBlob, linkBlob, unlinkBlob } from '../../metadata/blobs-table.js';
import {
  ensureRepository,
  findRepository,
  lockRepositoryForShare,
} from '../../metadata/repositories-table.js';
import { StorageNotFoundError, type ObjectCopy } from '../../storage/driver.js';
import { blobKey } from '../../storage/paths.js';
import type { RegistryDeps } from './deps.js';
import { requireDigest, requireRepositoryName } from './validate.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

export interface BlobRange {
  start: number;
  end: number;
}

/** Reads, deletes and mounts blobs. Which repository may see a blob is metadata, checked here. */
export class BlobService {
  constructor(private readonly deps: RegistryDeps) {}

  /** The blob as seen from a repository; BLOB_UNKNOWN or NAME_UNKNOWN when it is not visible. */
  async stat(repository: string, digestValue: string): Promise<BlobInfo> {
    requireRepositoryName(repository);
    const digest = requireDigest(digestValue);
    const key = `blob:${digest.value}`;
    const cached = this.deps.lookups.get<BlobInfo>(repository, key);
    if (cached) return cached;
    const epoch = this.deps.lookups.epoch();
    const row = await findLinkedBlob(this.deps.db, repository, digest.value);
    // Bytes taken out of service (fsck quarantined them) make the blob unknown, so that a client
    // uploads it again instead of skipping it; one stat per cache miss, not per request.
    if (row && (await this.deps.storage.stat(blobKey(digest)))) {
      this.deps.lookups.set(repository, key, row, epoch);
      return row;
    }
    return this.throwUnknown(repository, `blob ${digest.value} is not in repository ${repository}`);
  }

  /**
   * The blob's bytes from `offset` to the end as a stream, as seen from a repository: how
   * replication reads this registry (no HTTP round trip through its own listener).
   */
  async readFrom(
    repository: string,
    digestValue: string,
    offset: number,
  ): Promise<{ stream: Readable; size: number }> {
    const blob = await this.stat(repository, digestValue);
    if (offset < 0 || offset > blob.size) {
      throw new RegistryError('RANGE_INVALID', `offset ${offset} is beyond blob ${blob.digest}`);
    }
    try {
      const stream = await this.deps.storage.read(blobKey(requireDigest(blob.digest)), { offset });
      return { stream, size: blob.size };
    } catch (err) {
      if (err instanceof StorageNotFoundError) {
        throw new RegistryError('BLOB_UNKNOWN', `blob ${blob.digest} is missing from storage`);
      }
      throw err;
    }
  }

  /** Opens the blob's bytes (or a range) for copying into a response. */
  async open(blob: BlobInfo, range?: BlobRange): Promise<ObjectCopy> {
    const digest = requireDigest(blob.digest);
    try {
      return await this.deps.storage.openCopy(
        blobKey(digest),
        range ? { offset: range.start, length: range.end - range.start + 1 } : undefined,
      );
    } catch (err) {
      if (err instanceof StorageNotFoundError) {
        // Metadata says yes, storage says no: report it as unknown rather than a server error.
        throw new RegistryError('BLOB_UNKNOWN', `blob ${blob.digest} is missing from storage`);
      }
      throw err;
    }
  }

  /** Removes the blob from the repository; the bytes stay until garbage collection. */
  async delete(repository: string, digestValue: string): Promise<void> {
    requireRepositoryName(repository);
    const digest = requireDigest(digestValue);
    const repo = await findRepository(this.deps.db, repository);
    if (!repo) throw new RegistryError('NAME_UNKNOWN', `repository ${repository} is not known`);
    const unlinked = await unlinkBlob(this.deps.db, repo.id, digest.value);
    await this.deps.lookups.invalidate(repository);
    if (!unlinked) {
      throw new RegistryError('BLOB_UNKNOWN', `blob ${digest.value} is not in repository ${repository}`);
    }
  }

  /**
   * Cross-repository mount: makes a blob of `from` visible in `repository` without copying.
   * Returns the blob when mounted, null when it cannot be (the caller falls back to an upload).
   * Malformed `mount` or `from` values are one more reason it cannot be: the spec has the registry
   * fall back to an upload session then, rather than fail the POST. A mount over the project's
   * storage quota is refused (DENIED): the upload it would fall back to would be refused too.
   */
  async mount(
    repository: string,
    from: string,
    digestValue: string,
    actor?: EventActor,
  ): Promise<BlobInfo | null> {
    requireRepositoryName(repository);
    const parsed = parseDigest(digestValue);
    if (!parsed.ok || !isRepositoryName(from)) return null;
    const digest = parsed.digest;
    const mounted = this.deps.db.transaction(async (tx) => {
      // Lock order of every blob write: repository, blob, quota row. Checked under the blob's
      // lock: GC cannot remove it between this check and the link.
      const repo = await ensureRepository(tx, repository);
      await lockRepositoryForShare(tx, repo.id);
      await holdBlobsShared(tx, [digest.value]);
      const source = await findLinkedBlob(tx, from, digest.value);
      // Without its bytes the blob must be uploaded: a mount would skip the push that restores them.
      if (!source || !(await this.deps.storage.stat(blobKey(digest)))) return null;
      await requireQuotaRoom(tx, { repository, blobs: [source], actor });
      await linkBlob(tx, repo.id, digest.value);
      return source;
    });
    return mounted.catch(recordQuotaRefusal(this.deps.db));
  }

  private async throwUnknown(repository: string, message: string): Promise<never> {
    const repo = await findRepository(this.deps.db, repository);
    if (!repo) throw new RegistryError('NAME_UNKNOWN', `repository ${repository} is not known`);
    throw new RegistryError('BLOB_UNKNOWN', message);
  }
}
