import { RemoteError, type RemoteRegistry } from '../remote/index.js';

// Deleting one tag at a destination. Wharf and Harbor delete a tag by its name. CNCF distribution
// (Debian's docker-registry, and registries built on it) refuses that and deletes manifests by
// digest only, taking every tag that points there with it: so the manifest is deleted by digest
// only when no other tag of the repository points at it; otherwise the task fails and says why,
// rather than deleting tags the source still has.

/** True when deleted, false when the tag was gone already. */
export async function deleteTag(
  registry: RemoteRegistry,
  repository: string,
  tag: string,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    return await registry.deleteManifest(repository, tag, signal);
  } catch (err) {
    if (!refusesTagDeletion(err)) throw err;
  }
  const digests = await registry.tagDigests(repository, signal);
  const digest = digests.get(tag);
  if (digest === undefined) return false;
  const sharing = [...digests].filter(([t, d]) => d === digest && t !== tag).map(([t]) => t);
  if (sharing.length > 0) {
    throw new RemoteError(
      'other',
      `the destination deletes manifests by digest only, and ${sharing.slice(0, 5).join(', ')}` +
        `${sharing.length > 5 ? ', ...' : ''} point at the same manifest as ${tag}: not deleted`,
    );
  }
  log(`the destination deletes by digest only: deleting ${digest}, which only ${tag} points at`);
  return registry.deleteManifest(repository, digest, signal);
}

/** distribution's answer to DELETE by tag: 400/405, UNSUPPORTED or a digest error. */
function refusesTagDeletion(err: unknown): boolean {
  if (!(err instanceof RemoteError) || err.status === undefined) return false;
  if (err.status === 405) return true;
  return err.status === 400 && (err.code === 'UNSUPPORTED' || err.code === 'DIGEST_INVALID');
}
