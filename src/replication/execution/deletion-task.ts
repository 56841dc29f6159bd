import { recordSkippedDeletion } from '../../metadata/replication-skipped-deletions-table.js';
import { compileFilters } from '../plan/index.js';
import { messageOf } from './failures.js';
import { deleteTag } from './tag-deletion.js';
import { checkDeletion, sideRecords } from './two-way.js';
import type { ExecutionDeps, TaskWork } from './types.js';

// One deletion task. Nothing is deleted when the tag is back at the source. On two-way sides the
// deletion must still win at the destination (a version pushed there after the deletion here
// stays): asked before, and again by a Wharf destination itself in the deleting statement, which
// gets the source's deletion time with the request and keeps it in its tombstone. Other
// destinations learn that time afterwards through the peer API where they can (best effort).
//
// The task's outcome is one line: what it deleted (then the job says "succeeded"), or "skipped:"
// and why, returned as the job's outcome. A deletion the destination cannot perform is such a
// skip, recorded so that later runs do not plan it again (deletion-skips.ts). When the source
// deleted the artifact itself, not only the tag, a Wharf or Harbor destination deletes the
// artifact too once its last tag is gone, instead of keeping it untagged.

export async function performDeletion(deps: ExecutionDeps, work: TaskWork): Promise<string | void> {
  const { task, policy, source, destination, job, tombstoneTtlMs } = work;
  const { signal } = job;
  const target = `${task.dst_repository}:${task.tag}`;
  if (!policy.replicateDeletion) return `skipped: replicate_deletion is off, ${target} not deleted`;
  // The tag may have come back at the source since the plan: then it must stay.
  const here = await source.tagRecord(task.src_repository, task.tag, signal);
  if (here.digests.has(task.tag)) {
    return `skipped: ${task.src_repository}:${task.tag} exists at the source again, ${target} not deleted`;
  }
  const tombstone = here.tombstones?.get(task.tag);
  if (here.pushTimes && destination.tellsPushTimes) {
    const there = await destination.tagRecord(task.dst_repository, task.tag, signal);
    if (there.pushTimes) {
      const check = checkDeletion(task.tag, sideRecords(here), sideRecords(there), {
        now: Date.now(),
        ttlMs: tombstoneTtlMs,
      });
      if (!check.copy) return `skipped: ${check.reason ?? 'the destination wins'}, ${target} not deleted`;
    }
  }
  const tagFilter = compileFilters(policy.filters).tag;
  const deletion = await deleteTag(await destination.client(), {
    repository: task.dst_repository,
    tag: task.tag,
    // A tag outside the filter is never replication's to delete; one the source has must stay.
    wanted: async (other) =>
      !tagFilter(other) || (await source.tagRecord(task.src_repository, other, signal)).digests.has(other),
    log: (line) => job.log(line),
    signal,
    ...(tombstone && { originDeletedAt: tombstone.deletedAt }),
  });
  if (deletion.outcome === 'impossible') {
    await recordSkippedDeletion(deps.db, policy.id, {
      repository: task.dst_repository,
      tag: task.tag,
      digest: deletion.digest,
      reason: deletion.reason,
    });
    return `skipped: ${deletion.reason}`;
  }
  if (deletion.outcome === 'superseded') {
    return `skipped: ${target} was pushed there after its deletion here, not deleted`;
  }
  job.log(deletion.outcome === 'deleted' ? `deleted tag ${target}` : `${target} was gone already`);
  if (tombstone) await recordDeletionTime(work, tombstone, deletion.timeRecorded);
  await deleteArtifactGoneAtSource(work, tombstone?.digest ?? task.digest);
}

async function recordDeletionTime(
  { task, destination, job }: TaskWork,
  tombstone: { digest: string; deletedAt: number },
  timeRecorded: boolean,
): Promise<void> {
  const when = new Date(tombstone.deletedAt).toISOString();
  if (timeRecorded) {
    job.log(`origin deletion time ${when} recorded with the deletion`);
    return;
  }
  try {
    const recorded = await destination.recordDeletion(
      {
        repository: task.dst_repository,
        tag: task.tag,
        digest: tombstone.digest,
        deletedAt: tombstone.deletedAt,
      },
      job.signal,
    );
    if (recorded) job.log(`origin deletion time ${when} recorded at the destination`);
  } catch (err) {
    job.log(`the origin deletion time was not recorded: ${messageOf(err)}`);
  }
}

/**
 * The artifact whose tag was just deleted, when the source no longer has it either (an artifact
 * deletion there, not a tag deletion) and no tag points at it at the destination any more.
 */
async function deleteArtifactGoneAtSource(
  { task, source, destination, job }: TaskWork,
  digest: string,
): Promise<void> {
  const { signal } = job;
  const left = await destination.artifactTags(task.dst_repository, digest, signal);
  // Any OCI registry: a manifest there is not an artifact of its own (it goes with its tags).
  if (left === undefined) return;
  // Only the tag went at the source: the artifact stays (untagged), as it does there.
  if ((await (await source.client()).headManifest(task.src_repository, digest, signal)) !== null) return;
  const artifact = `${task.dst_repository}@${digest}`;
  if (left.length > 0) {
    job.log(`artifact ${artifact} kept: ${left.slice(0, 5).join(', ')} still point at it there`);
    return;
  }
  const deleted = await (await destination.client()).deleteManifest(task.dst_repository, digest, signal);
  if (deleted) job.log(`deleted artifact ${artifact} (deleted at the source)`);
}
