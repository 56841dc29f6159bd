import { type Digest } from '../../domain/digest.js';
import { RegistryError } from '../../domain/errors.js';
import { digestHexOf } from '../../domain/hashing.js';
import { parseManifest, requiredBlobDigests, type ParsedManifest } from '../../domain/manifest.js';
import { OCI_INDEX } from '../../domain/media-types.js';
import { findBlob, insertBlob, linkBlob, linkedDigests, unlinkBlob } from '../../metadata/blobs-table.js';
import {
  deleteManifest,
  existingManifestDigests,
  findManifestByDigest,
  listReferrers,
  resolveManifest,
  setTag,
  upsertManifest,
  type ManifestReference as ManifestRefRow,
  type ManifestRow,
} from '../../metadata/manifests-table.js';
import {
  ensureRepository,
  findRepository,
  lockRepository,
  touchRepository,
} from '../../metadata/repositories-table.js';
import {
  deleteTagUnlessLater,
  deleteTagWithTombstone,
  lockedTagVersion,
  recordTagOrigin,
  recordTombstonesOfManifest,
} from '../../metadata/tombstones-table.js';
import { compareStates, type TagState } from '../../domain/tag-versions.js';
import type { Queryable } from '../../metadata/database.js';
import { StorageNotFoundError } from '../../storage/driver.js';
import { blobKey } from '../../storage/paths.js';
import type { RegistryDeps } from './deps.js';
import {
  lookupReference,
  parseManifestReference,
  requireDigest,
  requireQueryText,
  requireRepositoryName,
  requireTag,
} from './validate.js';

export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
}

export interface ManifestContent extends StoredManifest {
  bytes: Buffer;
}

export interface PutManifestResult {
  digest: Digest;
  subject?: string;
  /** A stated origin push time was recorded with the tags. */
  originRecorded: boolean;
  /** Tags a replicated write left alone: what they hold now is later than the stated origin. */
  superseded?: string[];
}

const DEFAULT_TOMBSTONE_TTL_MS = 7 * 86_400_000;

export interface ReferrersIndex {
  schemaVersion: 2;
  mediaType: typeof OCI_INDEX;
  manifests: Array<{
    mediaType: string;
    digest: string;
    size: number;
    artifactType?: string;
    annotations?: Record<string, string>;
  }>;
}

export class ManifestService {
  constructor(private readonly deps: RegistryDeps) {}

  async put(
    repository: string,
    reference: string,
    bytes: Buffer,
    contentType: string | undefined,
    extraTags: readonly string[] = [],
    /** Replication's copy: the tags' push time at their origin, recorded with the tags. */
    origin?: { pushTime: Date; origin: string },
  ): Promise<PutManifestResult> {
    requireRepositoryName(repository);
    const ref = parseManifestReference(reference);
    const tags = [...new Set([...('tag' in ref ? [ref.tag] : []), ...extraTags.map(requireTag)])];
    if (bytes.length > this.deps.limits.manifestMaxBytes) {
      throw new RegistryError(
        'MANIFEST_TOO_LARGE',
        `manifest is larger than ${this.deps.limits.manifestMaxBytes} bytes`,
      );
    }
    const manifest = parseManifest(bytes, contentType);
    const algorithm = 'digest' in ref ? ref.digest.algorithm : 'sha256';
    const digest = requireDigest(`${algorithm}:${digestHexOf(algorithm, bytes)}`);
    if ('digest' in ref && ref.digest.value !== digest.value) {
      throw new RegistryError(
        'DIGEST_INVALID',
        `manifest has digest ${digest.value}, not ${ref.digest.value}`,
      );
    }

    // Refuse before writing anything when references are missing (checked again in the transaction).
    const existingRepo = await findRepository(this.deps.db, repository);
    if (existingRepo) await this.checkReferences(this.deps.db, existingRepo.id, manifest);
    else if (requiredBlobDigests(manifest).length > 0 || manifest.manifests.length > 0) {
      await this.checkReferences(this.deps.db, -1, manifest);
    }
    // Bytes first (durable, content-addressed), then the rows that make them visible.
    if (!(await findBlob(this.deps.db, digest.value)) || !(await this.deps.storage.stat(blobKey(digest)))) {
      await this.deps.storage.write(blobKey(digest), bytes);
    }
    const superseded: string[] = [];
    await this.deps.db.transaction(async (tx) => {
      const repo = await ensureRepository(tx, repository);
      // A replicated write (an origin stated) competes with what the tags hold now under the
      // two-way rule, decided here with the repository locked: a client push of these tags
      // commits before this reads them or waits until this commits, so a copy never overwrites
      // a later push, nor a later deletion, that reached this registry while it was on its way.
      // First in the transaction, so no lock of ours is held while waiting for it.
      const winners = origin
        ? await this.laterVersions(tx, repo.id, repository, tags, digest.value, origin)
        : [];
      superseded.push(...winners);
      await this.checkReferences(tx, repo.id, manifest);
      await insertBlob(tx, digest.value, bytes.length);
      await linkBlob(tx, repo.id, digest.value);
      const row = await upsertManifest(tx, {
        repositoryId: repo.id,
        digest: digest.value,
        mediaType: manifest.mediaType,
        artifactType: manifest.artifactType ?? null,
        size: bytes.length,
        subjectDigest: manifest.subject?.digest ?? null,
        annotations: manifest.annotations ?? null,
        references: referencesOf(manifest),
      });
      for (const tag of tags) {
        if (superseded.includes(tag)) continue;
        await setTag(tx, repo.id, tag, row.id);
        if (origin) await recordTagOrigin(tx, { repository, tag, digest: digest.value, ...origin });
      }
      await touchRepository(tx, repo.id);
    });
    await this.deps.lookups.invalidate(repository);
    this.deps.manifestCache.set(digest.value, bytes);
    return {
      digest,
      originRecorded: origin !== undefined && tags.length > 0 && superseded.length === 0,
      superseded,
      ...(manifest.subject && { subject: manifest.subject.digest }),
    };
  }

  /** The tags whose current version (or tombstone) beats the replicated write. */
  private async laterVersions(
    tx: Queryable,
    repositoryId: number,
    repository: string,
    tags: readonly string[],
    digest: string,
    origin: { pushTime: Date },
  ): Promise<string[]> {
    if (tags.length === 0) return [];
    await lockRepository(tx, repositoryId);
    const since = new Date(Date.now() - (this.deps.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS));
    const stated: TagState = { kind: 'present', digest, pushedAt: origin.pushTime.getTime() };
    const later: string[] = [];
    for (const tag of tags) {
      const current = await lockedTagVersion(tx, repositoryId, repository, tag, since);
      const same = current.kind === 'present' && current.digest === digest;
      if (!same && compareStates(current, stated) > 0) later.push(tag);
    }
    return later;
  }

  /** Resolves a tag or digest to the stored manifest's description (HEAD). */
  async stat(repository: string, reference: string): Promise<StoredManifest> {
    requireRepositoryName(repository);
    const cached = this.deps.lookups.get<StoredManifest>(repository, reference);
    if (cached) return cached;
    const epoch = this.deps.lookups.epoch();
    const ref = lookupReference(reference);
    const row =
      ref &&
      (await resolveManifest(
        this.deps.db,
        repository,
        'tag' in ref ? { tag: ref.tag } : { digest: ref.digest.value },
      ));
    if (!row) {
      if (!(await findRepository(this.deps.db, repository))) {
        throw new RegistryError('NAME_UNKNOWN', `repository ${repository} is not known`);
      }
      throw new RegistryError(
        'MANIFEST_UNKNOWN',
        `manifest ${reference.slice(0, 150)} is not in repository ${repository}`,
      );
    }
    const stored = toStored(row);
    this.deps.lookups.set(repository, reference, stored, epoch);
    return stored;
  }

  async get(repository: string, reference: string): Promise<ManifestContent> {
    const stored = await this.stat(repository, reference);
    return { ...stored, bytes: await this.bytesOf(stored.digest) };
  }

  /** DELETE by digest removes the manifest (and its tags); DELETE by tag removes only the tag. */
  /**
   * Deletes a tag (leaving a tombstone) or a manifest. `originDeletedAt`: replication's deletion of
   * a tag, made at its origin then: the tag goes only if it was not pushed here later
   * ('superseded' otherwise), and the tombstone keeps the origin's time.
   */
  async delete(
    repository: string,
    reference: string,
    originDeletedAt?: Date,
  ): Promise<'deleted' | 'superseded'> {
    requireRepositoryName(repository);
    const ref = parseManifestReference(reference);
    const repo = await findRepository(this.deps.db, repository);
    if (!repo) throw new RegistryError('NAME_UNKNOWN', `repository ${repository} is not known`);
    if ('tag' in ref) {
      // With a tombstone, so that two-way replication never brings the tag back.
      const outcome = originDeletedAt
        ? await deleteTagUnlessLater(this.deps.db, repo.id, repository, ref.tag, originDeletedAt)
        : (await deleteTagWithTombstone(this.deps.db, repo.id, repository, ref.tag))
          ? 'deleted'
          : 'absent';
      await this.deps.lookups.invalidate(repository);
      if (outcome === 'absent') {
        throw new RegistryError('MANIFEST_UNKNOWN', `tag ${ref.tag} is not in repository ${repository}`);
      }
      return outcome;
    }
    await this.deps.db.transaction(async (tx) => {
      const row = await findManifestByDigest(tx, repo.id, ref.digest.value);
      if (!row)
        throw new RegistryError(
          'MANIFEST_UNKNOWN',
          `manifest ${ref.digest.value} is not in repository ${repository}`,
        );
      await recordTombstonesOfManifest(tx, repository, row.id);
      await deleteManifest(tx, row.id);
      await unlinkBlob(tx, repo.id, ref.digest.value);
      await touchRepository(tx, repo.id);
    });
    await this.deps.lookups.invalidate(repository);
    return 'deleted';
  }

  /** The referrers API: manifests whose subject is `digest`, optionally filtered by artifactType. */
  async referrers(repository: string, digestValue: string, artifactType?: string): Promise<ReferrersIndex> {
    requireRepositoryName(repository);
    const digest = requireDigest(digestValue);
    requireQueryText(artifactType, 'artifactType');
    const repo = await findRepository(this.deps.db, repository);
    const rows = repo ? await listReferrers(this.deps.db, repo.id, digest.value, artifactType) : [];
    return {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: rows.map((r) => ({
        mediaType: r.media_type,
        digest: r.digest,
        size: r.size,
        ...(r.artifact_type !== null && { artifactType: r.artifact_type }),
        ...(r.annotations !== null && { annotations: r.annotations }),
      })),
    };
  }

  private async bytesOf(digestValue: string): Promise<Buffer> {
    const cached = this.deps.manifestCache.get(digestValue);
    if (cached) return cached;
    const digest = requireDigest(digestValue);
    let stream;
    try {
      stream = await this.deps.storage.read(blobKey(digest));
    } catch (err) {
      if (err instanceof StorageNotFoundError) {
        throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${digestValue} is missing from storage`);
      }
      throw err;
    }
    const parts: Buffer[] = [];
    let total = 0;
    for await (const part of stream) {
      parts.push(part as Buffer);
      total += (part as Buffer).length;
      if (total > this.deps.limits.manifestMaxBytes) {
        stream.destroy();
        throw new Error(`stored manifest ${digestValue} exceeds the manifest size limit`);
      }
    }
    const bytes = Buffer.concat(parts);
    this.deps.manifestCache.set(digestValue, bytes);
    return bytes;
  }

  private async checkReferences(
    tx: Parameters<typeof linkedDigests>[0],
    repositoryId: number,
    manifest: ParsedManifest,
  ): Promise<void> {
    const blobs = requiredBlobDigests(manifest);
    const linked = await linkedDigests(tx, repositoryId, blobs);
    const missingBlobs = blobs.filter((d) => !linked.has(d));
    if (missingBlobs.length > 0) {
      throw new RegistryError(
        'MANIFEST_BLOB_UNKNOWN',
        `manifest references blobs not in this repository: ${missingBlobs.join(', ')}`,
        { missing: missingBlobs },
      );
    }
    const children = [...new Set(manifest.manifests.map((m) => m.digest))];
    const present = await existingManifestDigests(tx, repositoryId, children);
    const missingChildren = children.filter((d) => !present.has(d));
    if (missingChildren.length > 0) {
      throw new RegistryError(
        'MANIFEST_BLOB_UNKNOWN',
        `index references manifests not in this repository: ${missingChildren.join(', ')}`,
        { missing: missingChildren },
      );
    }
  }
}

function referencesOf(manifest: ParsedManifest): ManifestRefRow[] {
  const refs: ManifestRefRow[] = [];
  if (manifest.config) refs.push({ digest: manifest.config.digest, kind: 'config' });
  for (const layer of manifest.layers) refs.push({ digest: layer.digest, kind: 'layer' });
  for (const child of manifest.manifests) refs.push({ digest: child.digest, kind: 'manifest' });
  if (manifest.subject) refs.push({ digest: manifest.subject.digest, kind: 'subject' });
  return refs;
}

function toStored(row: ManifestRow): StoredManifest {
  return { digest: row.digest, mediaType: row.media_type, size: row.size };
}
