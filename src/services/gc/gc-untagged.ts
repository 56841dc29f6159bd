import { RegistryError } from '../../domain/errors.js';
import { isTransientConflict } from '../../metadata/database.js';
import { untaggedArtifacts, type UntaggedArtifact } from '../../metadata/gc-queries.js';
import type { CascadeRow } from '../../metadata/artifact-deletion-queries.js';
import { GC_ACTOR, GC_PAGE, type GcRun } from './gc-context.js';

// Step 1 (delete_untagged): artifacts without a tag go through the artifact core's one delete
// rule set, so their events, tombstones and cascades are those of any other deletion. The core
// rechecks "still collectable" inside its transaction after locking the repository: a push that
// tags the manifest meanwhile wins.

/** Failures that mean "not for GC any more" (deleted or listed meanwhile), not a failed run. */
function goneOrRefused(err: unknown): boolean {
  return (
    err instanceof RegistryError &&
    (err.code === 'MANIFEST_UNKNOWN' || err.code === 'NAME_UNKNOWN' || err.status === 412)
  );
}

async function deleteOne(run: GcRun, artifact: UntaggedArtifact): Promise<CascadeRow[]> {
  try {
    return await run.deps.artifacts.deleteArtifact(artifact.repository, artifact.digest, GC_ACTOR, {
      onlyIfUntaggedBefore: run.cutoff,
      planOnly: run.params.dryRun,
    });
  } catch (err) {
    if (goneOrRefused(err)) return [];
    // The deletion lost a deadlock with a concurrent write (rolled back whole): the next run
    // deletes it; this one goes on with the rest rather than failing.
    if (isTransientConflict(err)) {
      run.log(
        `skipped ${artifact.repository}@${artifact.digest}: ${(err as Error).message}; the next run retries it`,
      );
      return [];
    }
    throw err;
  }
}

export async function deleteUntaggedArtifacts(run: GcRun): Promise<void> {
  const seen = new Set<number>();
  let eligible = 0;
  for (let afterId = 0; ;) {
    const page = await untaggedArtifacts(run.deps.db, run.cutoff, afterId, GC_PAGE);
    if (page.length === 0) break;
    afterId = page[page.length - 1]?.id ?? afterId;
    eligible += page.length;
    // One at a time: each deletion locks its repository, and cascades may overlap.
    for (const artifact of page) {
      run.signal.throwIfAborted();
      // A dry run plans without deleting: skip what an earlier plan already took along.
      if (seen.has(artifact.id)) continue;
      for (const row of await deleteOne(run, artifact)) {
        const id = Number(row.id);
        if (seen.has(id)) continue;
        seen.add(id);
        if (run.params.dryRun) {
          run.planned.manifestIds.push(id);
          // The cascade removes each manifest's own link, whatever its age.
          run.planned.links.push({ repositoryId: artifact.repositoryId, digest: row.digest });
        }
      }
    }
  }
  run.summary.manifestsDeleted += seen.size;
  run.log(`${eligible} untagged artifacts eligible for deletion`);
  run.log(
    `${seen.size} manifests ${run.params.dryRun ? 'would be ' : ''}deleted (with what they took along)`,
  );
}
