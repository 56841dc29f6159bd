import { RegistryError } from '../../domain/errors.js';
import { OCI_INDEX } from '../../domain/media-types.js';
import { listReferrers, resolveManifest, type ManifestRow } from '../../metadata/manifests-table.js';
import { findRepository } from '../../metadata/repositories-table.js';
import { StorageNotFoundError } from '../../storage/driver.js';
import { blobKey } from '../../storage/paths.js';
import type { RegistryDeps } from './deps.js';
import { lookupReference, requireDigest, requireQueryText, requireRepositoryName } from './validate.js';

export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
}

export interface ManifestContent extends StoredManifest {
  bytes: Buffer;
}

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

/**
 * Reads of manifests (/v2 HEAD and GET, the referrers API). Every write goes through the
 * artifact core (services/artifacts/artifact-service.ts).
 */
export class ManifestService {
  constructor(private readonly deps: RegistryDeps) {}

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
}

function toStored(row: ManifestRow): StoredManifest {
  return { digest: row.digest, mediaType: row.media_type, size: row.size };
}
