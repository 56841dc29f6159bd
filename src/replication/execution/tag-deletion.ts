import { ORIGIN_DELETED_AT_HEADER, ORIGIN_RECORDED_HEADER } from '../../domain/origin-headers.js';
import { RemoteError, type RemoteRegistry } from '../../remote/index.js';
import { impossibleDeletionReason, sharingTags } from './deletion-skips.js';

// Deleting one tag at a destination. Wharf and Harbor delete a tag by its name. CNCF distribution
// (Debian's docker-registry, and registries built on it) refuses that and deletes manifests by
// digest only, taking every tag that points there with it: so the manifest is deleted by digest
// only when no other tag that must stay points at it (tags the source no longer has go with it,
// their own deletions find them gone); otherwise the deletion is impossible and says why, rather
// than deleting tags the source still has (deletion-skips.ts).

export type TagDeletion =
  | { outcome: 'deleted' | 'gone' | 'superseded'; timeRecorded: boolean }
  | { outcome: 'impossible'; digest: string; reason: string };

export interface TagDeletionRequest {
  repository: string;
  tag: string;
  /** Whether another tag must stay at the destination (the source has it, or the filter keeps it out). */
  wanted: (tag: string) => Promise<boolean>;
  log: (line: string) => void;
  signal?: AbortSignal;
  /**
   * Sent along: a Wharf destination then deletes only if the tag was not pushed there later
   * (answering `superseded`), and keeps that time in its tombstone.
   */
  originDeletedAt?: number;
}

/** Deletes the tag; says what happened and whether the destination recorded the origin's time. */
export async function deleteTag(registry: RemoteRegistry, request: TagDeletionRequest): Promise<TagDeletion> {
  const { repository, tag, signal, originDeletedAt } = request;
  const headers: Record<string, string> =
    originDeletedAt === undefined
      ? {}
      : { [ORIGIN_DELETED_AT_HEADER]: new Date(originDeletedAt).toISOString() };
  try {
    const answer = await registry.deleteManifestWith(repository, tag, headers, signal);
    const recorded = answer.header(ORIGIN_RECORDED_HEADER);
    if (recorded === 'superseded') return { outcome: 'superseded', timeRecorded: false };
    return { outcome: answer.deleted ? 'deleted' : 'gone', timeRecorded: recorded === 'true' };
  } catch (err) {
    if (!refusesTagDeletion(err)) throw err;
  }
  const digests = await registry.tagDigests(repository, signal);
  const digest = digests.get(tag);
  if (digest === undefined) return { outcome: 'gone', timeRecorded: false };
  const sharing = sharingTags(tag, digest, digests);
  const blockers: string[] = [];
  for (const other of sharing) {
    if (await request.wanted(other)) blockers.push(other);
    if (blockers.length > 5) break;
  }
  if (blockers.length > 0) {
    return {
      outcome: 'impossible',
      digest,
      reason: impossibleDeletionReason(repository, tag, digest, blockers),
    };
  }
  const along = sharing.length > 0 ? ` (with ${sharing.join(', ')}, deleted at the source too)` : '';
  request.log(`the destination deletes by digest only: deleting ${repository}@${digest}${along}`);
  const deleted = await registry.deleteManifest(repository, digest, signal);
  return { outcome: deleted ? 'deleted' : 'gone', timeRecorded: false };
}

/** distribution's answer to DELETE by tag: 400/405, UNSUPPORTED or a digest error. */
function refusesTagDeletion(err: unknown): boolean {
  if (!(err instanceof RemoteError) || err.status === undefined) return false;
  if (err.status === 405) return true;
  return err.status === 400 && (err.code === 'UNSUPPORTED' || err.code === 'DIGEST_INVALID');
}
