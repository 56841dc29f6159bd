import { copyArtifact } from '../copy/index.js';
import {
  ORIGIN_HEADER,
  ORIGIN_PUSH_TIME_HEADER,
  ORIGIN_RECORDED_HEADER,
} from '../../domain/origin-headers.js';
import { messageOf } from './failures.js';
import { mountCandidatesFor } from './mount-candidates.js';
import { checkCopy, sideRecords } from './two-way.js';
import type { ExecutionDeps, TaskWork } from './types.js';

// One copy task. The source's version of the tag is read once, when the task runs (not the
// planned one: a task delayed by retries must not move the tag back to what it was when
// planned), and that exact digest is copied, with that push time as its origin time.
//
// When both sides tell push times (two-way) the task asks the two-way rule again before it
// copies and once more right before it writes the tag: a copy may take long, and a push that
// reached the destination meanwhile, later than the source's, must win, not be overwritten. The
// tag's write carries the origin push time, which a Wharf destination records in the same
// transaction as the tag, so no one ever sees the copy with its copy time as push time; other
// destinations learn it afterwards through the peer API where they can (best effort).
//
// A copy that must not happen (the tag gone or changed at the source, the destination's version
// winning) ends with one outcome line, "skipped: <why>", in place of the job's "succeeded".

export async function performCopy(deps: ExecutionDeps, work: TaskWork): Promise<string | void> {
  const { task, policy, source, destination, job, tombstoneTtlMs } = work;
  const { signal } = job;
  const here = await source.tagRecord(task.src_repository, task.tag, signal);
  const digest = here.digests.get(task.tag);
  if (digest === undefined) {
    return `skipped: ${task.src_repository}:${task.tag} is no longer at the source, nothing copied`;
  }
  const pushedAt = here.pushTimes?.get(task.tag);
  // Why the copy must not write the tag, once stillWins says so: the task's outcome line.
  let lost: string | null = null;
  const stillWins = async (sourceAgain: boolean): Promise<boolean> => {
    if (!here.pushTimes || !destination.tellsPushTimes) return true;
    // Before the tag write, the source again too: a version deleted or replaced there while the
    // copy ran is not written.
    const now = sourceAgain ? await source.tagRecord(task.src_repository, task.tag, signal) : here;
    if (now.digests.get(task.tag) !== digest) {
      lost = `${task.src_repository}:${task.tag} changed at the source meanwhile`;
      return false;
    }
    const there = await destination.tagRecord(task.dst_repository, task.tag, signal);
    if (!there.pushTimes) return true;
    const check = checkCopy(task.tag, sideRecords(here), sideRecords(there), {
      now: Date.now(),
      ttlMs: tombstoneTtlMs,
    });
    if (!check.copy) lost = check.reason ?? 'the destination wins';
    return check.copy;
  };
  if (!(await stillWins(false))) return `skipped: not copied, ${lost ?? 'the destination wins'}`;
  const mountCandidates = mountCandidatesFor(
    deps.db,
    policy,
    { sourceIsLocal: source.registryId === null, destinationIsLocal: destination.registryId === null },
    task.dst_repository,
  );
  const originHeaders: Record<string, string> =
    pushedAt === undefined
      ? {}
      : { [ORIGIN_PUSH_TIME_HEADER]: new Date(pushedAt).toISOString(), [ORIGIN_HEADER]: source.name };
  const result = await copyArtifact({
    source: {
      registry: await source.client(),
      repository: task.src_repository,
      reference: digest,
    },
    destination: {
      registry: await destination.client(),
      repository: task.dst_repository,
      tag: task.tag,
      tagHeaders: originHeaders,
    },
    options: {
      speedKbps: policy.speed,
      override: policy.override,
      byChunk: policy.copyByChunk,
      ...(mountCandidates && { mountCandidates }),
      ...(here.pushTimes && { beforeTag: () => stillWins(true) }),
      signal,
      log: (line) => job.log(line),
    },
  });
  if (result.tagSkipped) {
    // Either a side changed while the copy ran (stillWins said so), or override is off.
    const why = lost ?? 'the destination differs and override is off';
    return `skipped: ${task.dst_repository}:${task.tag} not tagged at the destination, ${why}`;
  }
  if (pushedAt === undefined) return;
  const recorded = result.tagAnswer?.header(ORIGIN_RECORDED_HEADER);
  if (recorded === 'superseded') {
    return `skipped: not copied, the destination holds a later version of ${task.tag} (decided there)`;
  }
  if (recorded === 'true') {
    job.log(`origin push time ${new Date(pushedAt).toISOString()} recorded with the tag`);
    return;
  }
  await recordOrigin(work, digest, pushedAt);
}

/** For a destination that did not take the time with the tag (an older Wharf): the peer API. */
async function recordOrigin(
  { task, source, destination, job }: TaskWork,
  digest: string,
  pushedAt: number,
): Promise<void> {
  try {
    const recorded = await destination.recordOrigin(
      { repository: task.dst_repository, tag: task.tag, digest, pushedAt, origin: source.name },
      job.signal,
    );
    if (recorded) job.log(`origin push time ${new Date(pushedAt).toISOString()} recorded at the destination`);
  } catch (err) {
    job.log(`the origin push time was not recorded: ${messageOf(err)}`);
  }
}
