import type { Digest } from '../../domain/digest.js';
import { RegistryError } from '../../domain/errors.js';
import type { EventActor, NewEvent } from '../../domain/events.js';
import { digestHexOf } from '../../domain/hashing.js';
import { parseManifest, requiredBlobDigests, type ParsedManifest } from '../../domain/manifest.js';
import { compareStates, type TagState } from '../../domain/tag-versions.js';
import { holdBlobsShared } from '../../metadata/blob-guard.js';
import { recordQuotaRefusal, requireQuotaRoom } from '../quotas/quota-guard.js';
import { findBlob, insertBlob, linkBlob, linkedDigests } from '../../metadata/blobs-table.js';
import type { Queryable } from '../../metadata/database.js';
import {
  existingManifestDigests,
  setTag,
  upsertManifest,
  type ManifestReference,
} from '../../metadata/manifests-table.js';
import { recordEvents } from '../../metadata/outbox-table.js';
import {
  ensureRepository,
  findRepository,
  lockRepository,
  lockRepositoryForShare,
  touchRepository,
} from '../../metadata/repositories-table.js';
import { lockedTagVersion, recordTagOrigin } from '../../metadata/tombstones-table.js';
import { blobKey } from '../../storage/paths.js';
import type { RegistryDeps } from '../registry/deps.js';
import {
  parseManifestReference,
  requireDigest,
  requireRepositoryName,
  requireTag,
} from '../registry/validate.js';
import { artifactPushed, tagCreated } from './artifact-events.js';
import { refuseImmutableOverwrite } from './immutable-tags.js';

// Manifest PUT: validation, the bytes, then in one transaction the rows and the events.

export interface ManifestPut {
  repository: string;
  /** A tag or a digest (the path's reference). */
  reference: string;
  bytes: Buffer;
  contentType: string | undefined;
  /** More tags for the same manifest (the `tag` query parameters). */
  extraTags?: readonly string[];
  /** Replication's copy: the tags' push time at their origin, recorded with the tags. */
  origin?: { pushTime: Date; origin: string } | undefined;
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

export async function putManifest(
  deps: RegistryDeps,
  put: ManifestPut,
  actor: EventActor,
): Promise<PutManifestResult> {
  const { repository, bytes, origin } = put;
  const { tags, manifest, digest } = parsePut(deps, put);
  // Refuse before writing anything when references are missing (checked again in the transaction).
  const existingRepo = await findRepository(deps.db, repository);
  await checkReferences(deps.db, existingRepo?.id ?? -1, manifest);
  const superseded: string[] = [];
  const written = deps.db.transaction(async (tx) => {
    const repo = await ensureRepository(tx, repository);
    // A replicated write (an origin stated) competes with what the tags hold now under the
    // two-way rule, decided with the repository locked: a client push of these tags commits
    // before this reads them or waits until this commits, so a copy never overwrites a later
    // push, nor a later deletion. Other pushes share the lock: they only exclude a deletion,
    // which could otherwise remove a child this index lists between the check and the commit.
    if (origin && tags.length > 0) {
      await lockRepository(tx, repo.id);
      superseded.push(...(await laterVersions(deps, tx, repo.id, repository, tags, digest.value, origin)));
    } else {
      await lockRepositoryForShare(tx, repo.id);
    }
    // GC kept off this manifest's blob and everything it references until the rows commit.
    await holdBlobsShared(tx, [digest.value, ...requiredBlobDigests(manifest)]);
    await checkReferences(tx, repo.id, manifest);
    // Bytes first (durable, content-addressed), then the rows that make them visible: written
    // under the blob's lock, so GC cannot delete them (nor their directory) before the row is in.
    // Written again when fsck took stored bytes out of service: this push restores them.
    if (!(await findBlob(tx, digest.value)) || !(await deps.storage.stat(blobKey(digest)))) {
      await deps.storage.write(blobKey(digest), bytes);
    }
    // THE place for rules on what may be pushed (quota, tag immutability): here, in the push's
    // transaction, before any row is written; every push of every caller passes through it.
    const manifestBlob = { digest: digest.value, size: bytes.length };
    await requireQuotaRoom(tx, {
      repository,
      blobs: [manifestBlob],
      digest: digest.value,
      tag: tags[0],
      actor,
    });
    const given = tags.filter((tag) => !superseded.includes(tag));
    await refuseImmutableOverwrite(tx, repo, given, digest.value);
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
    const events: NewEvent[] = [
      artifactPushed(
        actor,
        repository,
        { digest: digest.value, mediaType: manifest.mediaType, size: bytes.length },
        given,
      ),
    ];
    for (const tag of given) {
      const change = await setTag(tx, repo.id, tag, row.id);
      if (change !== 'unchanged') events.push(tagCreated(actor, repository, tag, digest.value));
      if (origin) await recordTagOrigin(tx, { repository, tag, digest: digest.value, ...origin });
    }
    await recordEvents(tx, events);
    return repo.id;
  });
  const repositoryId = await written.catch(recordQuotaRefusal(deps.db));
  // After the commit, in its own statement: raising the push's KEY SHARE lock on the repository
  // row to an update inside the transaction deadlocks with a deletion queued for that row.
  await touchRepository(deps.db, repositoryId);
  await deps.lookups.invalidate(repository);
  deps.manifestCache.set(digest.value, bytes);
  return {
    digest,
    originRecorded: origin !== undefined && tags.length > 0 && superseded.length === 0,
    superseded,
    ...(manifest.subject && { subject: manifest.subject.digest }),
  };
}

/** The put's tags, manifest and digest, checked before anything is read or written. */
function parsePut(deps: RegistryDeps, put: ManifestPut) {
  requireRepositoryName(put.repository);
  const ref = parseManifestReference(put.reference);
  const tags = [...new Set([...('tag' in ref ? [ref.tag] : []), ...(put.extraTags ?? []).map(requireTag)])];
  if (put.bytes.length > deps.limits.manifestMaxBytes) {
    throw new RegistryError(
      'MANIFEST_TOO_LARGE',
      `manifest is larger than ${deps.limits.manifestMaxBytes} bytes`,
    );
  }
  const manifest = parseManifest(put.bytes, put.contentType);
  const algorithm = 'digest' in ref ? ref.digest.algorithm : 'sha256';
  const digest = requireDigest(`${algorithm}:${digestHexOf(algorithm, put.bytes)}`);
  if ('digest' in ref && ref.digest.value !== digest.value) {
    throw new RegistryError('DIGEST_INVALID', `manifest has digest ${digest.value}, not ${ref.digest.value}`);
  }
  return { tags, manifest, digest };
}

/** The tags whose current version (or tombstone) beats the replicated write. */
async function laterVersions(
  deps: RegistryDeps,
  tx: Queryable,
  repositoryId: number,
  repository: string,
  tags: readonly string[],
  digest: string,
  origin: { pushTime: Date },
): Promise<string[]> {
  const since = new Date(Date.now() - (deps.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS));
  const stated: TagState = { kind: 'present', digest, pushedAt: origin.pushTime.getTime() };
  const later: string[] = [];
  for (const tag of tags) {
    const current = await lockedTagVersion(tx, repositoryId, repository, tag, since);
    const same = current.kind === 'present' && current.digest === digest;
    if (!same && compareStates(current, stated) > 0) later.push(tag);
  }
  return later;
}

/** Every blob and child manifest the manifest names must be in the repository. */
async function checkReferences(tx: Queryable, repositoryId: number, manifest: ParsedManifest): Promise<void> {
  const blobs = requiredBlobDigests(manifest);
  const children = [...new Set(manifest.manifests.map((m) => m.digest))];
  if (blobs.length === 0 && children.length === 0) return;
  const linked = await linkedDigests(tx, repositoryId, blobs);
  const missingBlobs = blobs.filter((d) => !linked.has(d));
  if (missingBlobs.length > 0) {
    throw new RegistryError(
      'MANIFEST_BLOB_UNKNOWN',
      `manifest references blobs not in this repository: ${missingBlobs.join(', ')}`,
      { missing: missingBlobs },
    );
  }
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

function referencesOf(manifest: ParsedManifest): ManifestReference[] {
  const refs: ManifestReference[] = [];
  if (manifest.config) refs.push({ digest: manifest.config.digest, kind: 'config' });
  for (const layer of manifest.layers) refs.push({ digest: layer.digest, kind: 'layer' });
  for (const child of manifest.manifests) refs.push({ digest: child.digest, kind: 'manifest' });
  if (manifest.subject) refs.push({ digest: manifest.subject.digest, kind: 'subject' });
  return refs;
}
