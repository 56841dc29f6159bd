import { ORIGIN_DELETED_AT_HEADER, ORIGIN_RECORDED_HEADER } from '../../domain/origin-headers.js';
import { RemoteError, type RemoteRegistry } from '../remote/index.js';

// Deleting one tag at a destination. Wharf and Harbor delete a tag by its name. CNCF distribution
// (Debian's docker-registry, and registries built on it) refuses that and deletes manifests by
// digest only, taking every tag that points there with it: so the manifest is deleted by digest
// only when no other tag of the repository points at it; otherwise the task fails and says why,
// rather than deleting tags the source still has.

export type TagDeletion = 'deleted' | 'gone' | 'superseded';

/**
 * Deletes the tag; `originDeletedAt` is sent along (a Wharf destination then deletes only if the
 * tag was not pushed there later, answering `superseded`, and keeps that time in its tombstone).
 * Returns what happened and whether the destination recorded the origin's deletion time.
 */
export async function deleteTag(
  registry: RemoteRegistry,
  repository: string,
  tag: string,
  log: (line: string) => void,
  signal?: AbortSignal,
  originDeletedAt?: number,
): Promise<{ outcome: TagDeletion; timeRecorded: boolean }> {
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
  const sharing = [...digests].filter(([t, d]) => d === digest && t !== tag).map(([t]) => t);
  if (sharing.length > 0) {
    throw new RemoteError(
      'other',
      `the destination deletes manifests by digest only, and ${sharing.slice(0, 5).join(', ')}` +
        `${sharing.length > 5 ? ', ...' : ''} point at the same manifest as ${tag}: not deleted`,
    );
  }
  log(`the destination deletes by digest only: deleting ${digest}, which only ${tag} points at`);
  const deleted = await registry.deleteManifest(repository, digest, signal);
  return { outcome: deleted ? 'deleted' : 'gone', timeRecorded: false };
}

/** distribution's answer to DELETE by tag: 400/405, UNSUPPORTED or a digest error. */
function refusesTagDeletion(err: unknown): boolean {
  if (!(err instanceof RemoteError) || err.status === undefined) return false;
  if (err.status === 405) return true;
  return err.status === 400 && (err.code === 'UNSUPPORTED' || err.code === 'DIGEST_INVALID');
}
