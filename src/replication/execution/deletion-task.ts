import { messageOf } from './failures.js';
import { deleteTag } from './tag-deletion.js';
import { checkDeletion, sideRecords } from './two-way.js';
import type { TaskWork } from './types.js';

// One deletion task. Nothing is deleted when the tag is back at the source. On two-way sides the
// deletion must still win at the destination (a version pushed there after the deletion here
// stays): asked before, and again by a Wharf destination itself in the deleting statement, which
// gets the source's deletion time with the request and keeps it in its tombstone. Other
// destinations learn that time afterwards through the peer API where they can (best effort).

export async function performDeletion(work: TaskWork): Promise<void> {
  const { task, policy, source, destination, job, tombstoneTtlMs } = work;
  const { signal } = job;
  if (!policy.replicateDeletion) {
    job.log('replicate_deletion is off: nothing deleted');
    return;
  }
  // The tag may have come back at the source since the plan: then it must stay.
  const here = await source.tagRecord(task.src_repository, task.tag, signal);
  if (here.digests.has(task.tag)) {
    job.log(`${task.src_repository}:${task.tag} exists at the source again: not deleted`);
    return;
  }
  const tombstone = here.tombstones?.get(task.tag);
  if (here.pushTimes && destination.tellsPushTimes) {
    const there = await destination.tagRecord(task.dst_repository, task.tag, signal);
    if (there.pushTimes) {
      const check = checkDeletion(task.tag, sideRecords(here), sideRecords(there), {
        now: Date.now(),
        ttlMs: tombstoneTtlMs,
      });
      if (!check.copy) {
        job.log(`not deleted: ${check.reason ?? 'the destination wins'}`);
        return;
      }
    }
  }
  const dst = await destination.client();
  const { outcome, timeRecorded } = await deleteTag(
    dst,
    task.dst_repository,
    task.tag,
    (line) => job.log(line),
    signal,
    tombstone?.deletedAt,
  );
  if (outcome === 'superseded') {
    job.log(`not deleted: ${task.dst_repository}:${task.tag} was pushed there after its deletion here`);
    return;
  }
  job.log(
    outcome === 'deleted'
      ? `deleted tag ${task.dst_repository}:${task.tag}`
      : `${task.dst_repository}:${task.tag} was gone already`,
  );
  if (!tombstone) return;
  if (timeRecorded) {
    job.log(`origin deletion time ${new Date(tombstone.deletedAt).toISOString()} recorded with the deletion`);
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
      signal,
    );
    if (recorded)
      job.log(
        `origin deletion time ${new Date(tombstone.deletedAt).toISOString()} recorded at the destination`,
      );
  } catch (err) {
    job.log(`the origin deletion time was not recorded: ${messageOf(err)}`);
  }
}
