import { RaceClient, RestartPush, type RaceCounters } from './gc-race-client.js';
import {
  composeImage,
  createBlobPool,
  pickDistinct,
  seededRandom,
  type RaceImage,
} from './gc-race-images.js';
import type { OciClient } from './oci-client.js';

// The end-to-end GC race (issue #12, "Done when"): client workers push images built from one small
// pool of shared blobs, delete them, mount blobs across repositories and push again, while
// garbage collection runs back to back with no grace period. A push that loses a blob to GC gets
// BLOB_UNKNOWN / MANIFEST_BLOB_UNKNOWN (or its upload session is gone) and starts again from the
// beginning, as a real client does; those restarts are counted, not failures. What must never
// happen is an acknowledged manifest whose bytes are gone: every push is pulled back at once
// (while GC runs), and the ledger of last acknowledged states is what the caller verifies at the
// end (gc-race-verify.ts). Each tag belongs to one worker, so its last acknowledged state is
// well defined.

export interface RaceOptions {
  /** The workers' /v2 clients, used round robin (one per instance, or the load balancer's). */
  clients: OciClient[];
  /** Repositories the images go to (existing projects), e.g. test/race-a. */
  repositories: string[];
  workers: number;
  tagsPerWorker: number;
  /** Push/delete cycles to complete across all workers (the race stops earlier at the deadline). */
  cycles: number;
  /** Time cap of the race in milliseconds. */
  maxMs: number;
  seed: number;
  /** Runs one garbage collection to completion; called back to back while the workers run. */
  runGc: () => Promise<void>;
}

/** The last acknowledged state of one tag: the image pushed under it, or null once deleted. */
export interface TagRecord {
  repository: string;
  tag: string;
  image: RaceImage | null;
}

export interface RaceReport extends RaceCounters {
  /** Completed cycles: an acknowledged push, followed by a deletion when the worker holds 2+ tags. */
  cycles: number;
  gcRuns: number;
  ledger: TagRecord[];
  seed: number;
}

/** A deletion answered with an error this many times in a row fails the race. */
const MAX_ATTEMPTS = 25;

interface Shared {
  options: RaceOptions;
  counters: RaceCounters;
  cycles: number;
  deadline: number;
  stopped: boolean;
}

export async function runGcRace(options: RaceOptions): Promise<RaceReport> {
  const pool = createBlobPool();
  const shared: Shared = {
    options,
    counters: {
      pushes: 0,
      deletes: 0,
      restarts: {},
      mounted: 0,
      skippedExisting: 0,
      uploaded: 0,
      pulls: 0,
      serverErrors: [],
    },
    cycles: 0,
    deadline: Date.now() + options.maxMs,
    stopped: false,
  };
  const ledgers = Array.from({ length: options.workers }, (_, w) => workerTags(options, w));
  const workers = ledgers.map((tags, w) => runWorker(shared, w, tags, pool));
  // A failed GC run stops the race too (the clients would go on without a GC to race).
  let gcFailure: { reason: unknown } | undefined;
  const gc = runGcLoop(shared).catch((reason: unknown) => {
    gcFailure = { reason };
    shared.stopped = true;
    return 0;
  });
  const results = await Promise.allSettled(workers);
  shared.stopped = true;
  const gcResult = await gc;
  if (gcFailure) throw gcFailure.reason;
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return {
    ...shared.counters,
    cycles: shared.cycles,
    gcRuns: gcResult,
    ledger: ledgers.flat(),
    seed: options.seed,
  };
}

function workerTags(options: RaceOptions, worker: number): TagRecord[] {
  return Array.from({ length: options.tagsPerWorker }, (_, k) => ({
    repository: options.repositories[(worker + k) % options.repositories.length] as string,
    tag: `w${worker}-t${k}`,
    image: null,
  }));
}

/** GC back to back until the workers are done; returns how many runs completed. */
async function runGcLoop(shared: Shared): Promise<number> {
  let runs = 0;
  while (!shared.stopped) {
    await shared.options.runGc();
    runs++;
  }
  return runs;
}

async function runWorker(
  shared: Shared,
  worker: number,
  tags: TagRecord[],
  pool: ReturnType<typeof createBlobPool>,
): Promise<void> {
  const { options } = shared;
  const random = seededRandom(options.seed * 1000 + worker);
  const client = new RaceClient(
    options.clients[worker % options.clients.length] as OciClient,
    options.repositories,
    shared.counters,
    random,
  );
  try {
    for (let n = 0; shared.cycles < options.cycles && Date.now() < shared.deadline && !shared.stopped; n++) {
      const target = pickDistinct(tags, 1, random)[0] as TagRecord;
      const image = composeImage(pool, `w${worker}-${n}`, random);
      if (!(await pushWithRestarts(client, target, image, shared.deadline))) break;
      const others = tags.filter((t) => t.image !== null && t !== target);
      if (others.length >= 1 && tags.filter((t) => t.image !== null).length >= 2) {
        const victim = pickDistinct(others, 1, random)[0] as TagRecord;
        await deleteWithRetries(client, victim);
        victim.image = null;
        shared.counters.deletes++;
      }
      shared.cycles++;
    }
  } catch (err) {
    // One failing worker stops the others: the race is lost, its first error is the report.
    shared.stopped = true;
    throw err;
  }
}

/**
 * Pushes `image` under `target` until acknowledged, starting over when GC took a blob; false when
 * the deadline came first (the tag then keeps its last acknowledged state). With no grace period
 * a push can lose its blobs to GC many times in a row: a client retries, so the race does too.
 */
async function pushWithRestarts(
  client: RaceClient,
  target: TagRecord,
  image: RaceImage,
  deadline: number,
): Promise<boolean> {
  while (Date.now() < deadline) {
    try {
      await client.pushImage(target.repository, target.tag, image);
      target.image = image;
      client.counters.pushes++;
      await client.pullBack(target.repository, target.tag, image);
      return true;
    } catch (err) {
      if (!(err instanceof RestartPush)) throw err;
    }
  }
  return false;
}

/** Deletes `target`'s image; after a failed attempt, a tag found gone counts as deleted. */
async function deleteWithRetries(client: RaceClient, target: TagRecord): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (attempt > 1 && !(await client.tagExists(target.repository, target.tag))) return;
      await client.deleteTag(target.repository, target.tag, target.image as RaceImage);
      return;
    } catch (err) {
      if (!(err instanceof RestartPush) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
