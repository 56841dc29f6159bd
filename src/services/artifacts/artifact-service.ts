import { RegistryError } from '../../domain/errors.js';
import type { EventActor, NewEvent } from '../../domain/events.js';
import { manifestsWithTags, type CascadeRow } from '../../metadata/artifact-deletion-queries.js';
import {
  deleteRepositoryRows,
  findArtifactByDigest,
  findArtifactByTag,
} from '../../metadata/artifacts-query.js';
import type { Queryable } from '../../metadata/database.js';
import { isCollectableManifest } from '../../metadata/gc-queries.js';
import { insertTagIfAbsent } from '../../metadata/manifests-table.js';
import { recordEvents } from '../../metadata/outbox-table.js';
import {
  findRepository,
  lockRepository,
  lockRepositoryForShare,
  type RepositoryRow,
} from '../../metadata/repositories-table.js';
import {
  deleteTagUnlessLater,
  deleteTagWithTombstone,
  recordTombstonesOfRepository,
} from '../../metadata/tombstones-table.js';
import type { RegistryDeps } from '../registry/deps.js';
import { ServiceError } from '../service-error.js';
import {
  parseManifestReference,
  requireDigest,
  requireRepositoryName,
  requireTag,
} from '../registry/validate.js';
import { deleteCascade, planCascade } from './artifact-deletion.js';
import { artifactDeleted, repositoryDeleted, tagCreated, tagDeleted } from './artifact-events.js';
import { putManifest, type ManifestPut, type PutManifestResult } from './manifest-put.js';
import { refuseImmutableInCascade, refuseImmutableRemoval } from './immutable-tags.js';

// The artifact core: the ONE writer of manifests, tags and artifacts, whoever asks (/v2, the
// management API, replication's writes arriving over /v2; later retention, GC, the proxy cache).
// Every write runs in one transaction that also records its events (the outbox), and
// invalidates the repository's hot-path lookups after it. A rule about content (quota,
// immutability) goes HERE, at the write it guards: putManifest for what may be pushed,
// deleteArtifact / deleteTag for what may be removed. Callers authorise; this decides.

export type { ManifestPut, PutManifestResult } from './manifest-put.js';

export class ArtifactService {
  constructor(private readonly deps: RegistryDeps) {}

  /** Manifest PUT, with its tags (replication may state the tags' origin push time). */
  putManifest(put: ManifestPut, actor: EventActor): Promise<PutManifestResult> {
    return putManifest(this.deps, put, actor);
  }

  /**
   * Deletes the manifest a digest or tag names (by tag: the manifest the tag points at, as
   * Harbor's artifact delete) under the one delete rule set (artifact-deletion.ts). Returns the
   * manifests removed. GC's options: `onlyIfUntaggedBefore` deletes nothing (returns []) unless
   * the manifest is, inside this transaction, still untagged, unlisted, no present subject's
   * accessory and older than that time (a push tagging it meanwhile wins); `planOnly` returns
   * what would be removed and changes nothing (dry run).
   */
  async deleteArtifact(
    repository: string,
    reference: string,
    actor: EventActor,
    options: { onlyIfUntaggedBefore?: Date; planOnly?: boolean } = {},
  ): Promise<CascadeRow[]> {
    requireRepositoryName(repository);
    const ref = parseManifestReference(reference);
    const repo = await this.existingRepository(repository);
    return this.write(repo, async (tx) => {
      // Exclusive: no push commits an index listing one of these manifests meanwhile.
      if (!options.planOnly) await lockRepository(tx, repo.id);
      const digest = 'digest' in ref ? ref.digest.value : await this.digestOfTag(tx, repo, ref.tag);
      const { onlyIfUntaggedBefore: before } = options;
      if (before && !(await isCollectableManifest(tx, repo.id, digest, before))) return [];
      const cascade = await planCascade(tx, repo, digest);
      // Rules on what may be removed (immutable tags, retention holds) check `cascade` here.
      await refuseImmutableInCascade(tx, repo.name, cascade);
      if (options.planOnly) return cascade;
      await deleteCascade(tx, repo, cascade, actor);
      return cascade;
    });
  }

  /**
   * Removes one tag (a tombstone kept), never the manifest. `onlyIfDigest`: only while the tag
   * points at that manifest (the API names both). `originDeletedAt`: replication's deletion,
   * made at its origin then; the tag stays when it was pushed here later ('superseded').
   */
  async deleteTag(
    repository: string,
    tag: string,
    actor: EventActor,
    options: { onlyIfDigest?: string; originDeletedAt?: Date } = {},
  ): Promise<'deleted' | 'superseded'> {
    requireRepositoryName(repository);
    requireTag(tag);
    const repo = await this.existingRepository(repository);
    const only = options.onlyIfDigest === undefined ? undefined : requireDigest(options.onlyIfDigest).value;
    return this.write(repo, async (tx) => {
      const { outcome, digest } = options.originDeletedAt
        ? await deleteTagUnlessLater(tx, repo.id, repo.name, tag, options.originDeletedAt)
        : await this.deleteTagNow(tx, repo, tag, only);
      if (outcome === 'absent') {
        const where = only ? `on manifest ${only}` : `in repository ${repo.name}`;
        throw new RegistryError('MANIFEST_UNKNOWN', `tag ${tag} is not ${where}`);
      }
      if (outcome === 'deleted') {
        // A protected tag's deletion is undone: the refusal rolls this transaction back.
        await refuseImmutableRemoval(tx, repo.name, [tag]);
        await recordEvents(tx, [tagDeleted(actor, repo.name, tag, digest)]);
      }
      return outcome;
    });
  }

  /** Creates a tag on an existing manifest (the API); a tag of that name already there is a conflict. */
  async createTag(repository: string, reference: string, tag: string, actor: EventActor): Promise<void> {
    const repo = await this.existingRepository(repository);
    requireTag(tag);
    const ref = parseManifestReference(reference);
    await this.write(repo, async (tx) => {
      // Shared with pushes, exclusive to deletions: GC's "still untagged" recheck sees this tag.
      await lockRepositoryForShare(tx, repo.id);
      const target =
        'digest' in ref
          ? await this.manifestByDigest(tx, repo, ref.digest.value)
          : await this.manifestByTag(tx, repo, ref.tag);
      if (!(await insertTagIfAbsent(tx, repo.id, tag, target.id))) {
        throw new ServiceError('conflict', `tag ${tag} already exists in ${repo.name}`);
      }
      await recordEvents(tx, [tagCreated(actor, repo.name, tag, target.digest)]);
    });
  }

  /**
   * Deletes a repository's rows (manifests, tags, blob links; the bytes stay for GC), recording
   * artifact.deleted for every manifest and repository.deleted.
   */
  async deleteRepository(repository: string, actor: EventActor): Promise<void> {
    const repo = await this.existingRepository(repository);
    await this.write(repo, async (tx) => {
      // Locked first, so a push in flight finishes before (its tags get tombstones) or after.
      await lockRepository(tx, repo.id);
      const manifests = await manifestsWithTags(tx, repo.id);
      // As Harbor: a repository holding an immutable tag is not deleted.
      await refuseImmutableRemoval(
        tx,
        repo.name,
        manifests.flatMap((m) => m.tags),
      );
      await recordTombstonesOfRepository(tx, repo.id);
      await deleteRepositoryRows(tx, repo.id);
      const events: NewEvent[] = manifests.map((m) =>
        artifactDeleted(
          actor,
          repo.name,
          { digest: m.digest, mediaType: m.media_type, size: Number(m.size) },
          m.tags,
        ),
      );
      events.push(repositoryDeleted(actor, repo.name));
      await recordEvents(tx, events);
    });
  }

  // --- helpers --------------------------------------------------------------------------------

  /** One transaction, then the repository's cached lookups invalidated (also when it failed). */
  private async write<T>(repo: RepositoryRow, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.deps.db.transaction(fn);
    } finally {
      await this.deps.lookups.invalidate(repo.name);
    }
  }

  private async deleteTagNow(
    tx: Queryable,
    repo: RepositoryRow,
    tag: string,
    onlyIfDigest: string | undefined,
  ): Promise<{ outcome: 'deleted' | 'absent'; digest: string | null }> {
    const digest = await deleteTagWithTombstone(tx, repo.id, repo.name, tag, onlyIfDigest);
    return { outcome: digest === null ? 'absent' : 'deleted', digest };
  }

  private async existingRepository(repository: string): Promise<RepositoryRow> {
    requireRepositoryName(repository);
    const repo = await findRepository(this.deps.db, repository);
    if (!repo) throw new RegistryError('NAME_UNKNOWN', `repository ${repository} is not known`);
    return repo;
  }

  private async digestOfTag(tx: Queryable, repo: RepositoryRow, tag: string): Promise<string> {
    return (await this.manifestByTag(tx, repo, tag)).digest;
  }

  private async manifestByTag(tx: Queryable, repo: RepositoryRow, tag: string) {
    const row = await findArtifactByTag(tx, repo.id, tag);
    if (!row) throw new RegistryError('MANIFEST_UNKNOWN', `tag ${tag} is not in repository ${repo.name}`);
    return row;
  }

  private async manifestByDigest(tx: Queryable, repo: RepositoryRow, digest: string) {
    const row = await findArtifactByDigest(tx, repo.id, digest);
    if (!row)
      throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${digest} is not in repository ${repo.name}`);
    return row;
  }
}
