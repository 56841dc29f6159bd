import type { NewTask } from '../../metadata/replication-executions-table.js';
import type { SkippedDeletion } from '../../metadata/replication-skipped-deletions-table.js';

// Deletions a destination cannot perform. A registry built on CNCF distribution (Debian's
// docker-registry) deletes a manifest by digest only, taking every tag that points at it: a tag
// whose manifest another *wanted* tag still points at (one the source still has, or one outside
// the policy's tag filter, which replication never deletes) cannot go without that other tag.
// Retrying cannot help, so such a deletion is not a failure: the task succeeds, says "skipped"
// and why, and the skip is recorded for the policy (replication_skipped_deletions). Each run
// checks the recorded obstacle again against both sides' listings: while it lasts the deletion
// is not planned again; once the other tag is gone or moved the record is dropped and the
// deletion planned as any other.

/** The other tags of `tags` (tag → digest) that point at `digest`. */
export function sharingTags(tag: string, digest: string, tags: ReadonlyMap<string, string>): string[] {
  const sharing: string[] = [];
  for (const [other, at] of tags) if (at === digest && other !== tag) sharing.push(other);
  return sharing.sort();
}

/** Why the deletion is impossible, naming the manifest as repository@digest. */
export function impossibleDeletionReason(
  repository: string,
  tag: string,
  digest: string,
  blockers: readonly string[],
): string {
  const named = `${blockers.slice(0, 5).join(', ')}${blockers.length > 5 ? ', ...' : ''}`;
  return (
    `the destination deletes manifests by digest only, and ${named} (still wanted) ` +
    `point at the same manifest as ${tag}, ${repository}@${digest}: deleting it would take them too`
  );
}

/** Both sides' tags of one destination repository as the planner listed them (unfiltered). */
export interface DeletionView {
  source: ReadonlyMap<string, string>;
  destination: ReadonlyMap<string, string>;
}

export interface WithheldDeletion {
  task: NewTask;
  reason: string;
}

/**
 * Takes out of a plan the deletions recorded as impossible whose obstacle still stands; returns
 * what remains, what was withheld (with the reason), and the records that lapsed. Records of
 * repositories this run did not list (a run scoped to another repository) are left alone.
 */
export function withholdImpossibleDeletions(
  planned: readonly NewTask[],
  skips: readonly SkippedDeletion[],
  views: ReadonlyMap<string, DeletionView>,
  tagFilter: (tag: string) => boolean,
): { tasks: NewTask[]; withheld: WithheldDeletion[]; lapsed: SkippedDeletion[] } {
  const key = (repository: string, tag: string) => `${repository}\u0000${tag}`;
  const deletions = new Map(
    planned.filter((t) => t.operation === 'deletion').map((t) => [key(t.dstRepository, t.tag), t]),
  );
  const withheld: WithheldDeletion[] = [];
  const withheldTasks = new Set<NewTask>();
  const lapsed: SkippedDeletion[] = [];
  for (const skip of skips) {
    const view = views.get(skip.repository);
    if (!view) continue;
    const task = deletions.get(key(skip.repository, skip.tag));
    if (!task || task.digest !== skip.digest) {
      // The tag is back at the source, gone at the destination, or moved there: nothing to skip.
      lapsed.push(skip);
      continue;
    }
    const blockers = sharingTags(skip.tag, skip.digest, view.destination).filter(
      (other) => view.source.has(other) || !tagFilter(other),
    );
    if (blockers.length === 0) {
      lapsed.push(skip);
      continue;
    }
    withheldTasks.add(task);
    withheld.push({
      task,
      reason: impossibleDeletionReason(skip.repository, skip.tag, skip.digest, blockers),
    });
  }
  return { tasks: planned.filter((t) => !withheldTasks.has(t)), withheld, lapsed };
}
