import type { JobContext } from '../../jobs/queue.js';
import type { TaskRow } from '../../metadata/replication-executions-table.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import { sideRecords } from './copy-task.js';
import { messageOf } from './failures.js';
import type { Side } from './sides.js';
import { deleteTag } from './tag-deletion.js';
import { checkDeletion } from './two-way.js';

// One deletion task. Nothing is deleted when the tag is back at the source. On two-way sides the
// deletion must still win at the destination (a version pushed there after the deletion here
// stays): asked before, and again by a Wharf destination itself in the deleting statement, which
// gets the source's deletion time with the request and keeps it in its tombstone. Other
// destinations learn that time afterwards through the peer API where they can (best effort).

export async function performDeletion(
  task: TaskRow,
  policy: ReplicationPolicy,
  source: Side,
  destination: Side,
  job: JobContext,
  tombstoneTtlMs: number,
): Promise<void> {
  const { signal } = job;
  if (!policy.replicateDeletion) {
    job.log('replicate_deletion is off: nothing deleted');
    return;
  }
  // The tag may have come back at the source since the plan: then it must stay.
  const src = await source.client([task.src_repository]);
  if (await src.headManifest(task.src_repository, task.tag, signal)) {
    job.log(`${task.src_repository}:${task.tag} exists at the source again: not deleted`);
    return;
  }
  const here = source.tellsPushTimes ? await source.tagRecord(task.src_repository, task.tag, signal) : null;
  const tombstone = here?.tombstones?.get(task.tag);
  if (here?.pushTimes && destination.tellsPushTimes) {
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
  const dst = await destination.client([task.dst_repository]);
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
