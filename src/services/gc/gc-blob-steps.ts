import { parseDigest } from '../../domain/digest.js';
import { holdBlobExclusive } from '../../metadata/blob-guard.js';
import {
  blobRowExists,
  deleteStaleLink,
  doomBlob,
  doomedBlobs,
  dropDoomedMarker,
  staleLinks,
  unreferencedBlobs,
  type DoomedBlob,
  type StaleLink,
} from '../../metadata/gc-queries.js';
import { blobKey } from '../../storage/paths.js';
import { forEachParallel, GC_PAGE, type GcRun } from './gc-context.js';
import { formatBytes } from './gc-summary.js';

// Steps 0, 2 and 3 of a run (docs/lifecycle.md "The protocol"). Each deletion is its own short
// transaction holding the blob's lock exclusively, so a writer holding it shared (upload commit,
// mount, manifest PUT) is either done before GC rechecks (and its reference keeps the blob) or
// starts after GC committed (and finds the blob gone: it uploads again). Never more than one
// exclusive lock per transaction, so GC never deadlocks with a writer holding several shared.

/**
 * Phase B: deletes the bytes of a blob whose row phase A removed, unless a push brought the row
 * back meanwhile (then the bytes are that push's). Drops the marker either way. True when bytes
 * were deleted.
 */
async function finishDoomed(run: GcRun, digest: string): Promise<boolean> {
  const { db, storage } = run.deps;
  return db.transaction(async (tx) => {
    await holdBlobExclusive(tx, digest);
    const restored = await blobRowExists(tx, digest);
    const parsed = parseDigest(digest);
    if (!restored && parsed.ok) await storage.delete(blobKey(parsed.digest));
    await dropDoomedMarker(tx, digest);
    return !restored && parsed.ok;
  });
}

/** Step 0: a run killed between phase A and phase B left markers; finish their deletions. */
export async function finishInterruptedDeletions(run: GcRun): Promise<void> {
  let finished = 0;
  let bytes = 0;
  for (let after: string | null = null; ;) {
    const page: DoomedBlob[] = await doomedBlobs(run.deps.db, after, GC_PAGE);
    if (page.length === 0) break;
    after = page[page.length - 1]?.digest ?? null;
    if (run.params.dryRun) {
      finished += page.length;
      bytes += page.reduce((sum, b) => sum + b.size, 0);
      continue;
    }
    await forEachParallel(page, run.params.workers, run.signal, async (blob) => {
      if (await finishDoomed(run, blob.digest)) {
        finished++;
        bytes += blob.size;
      }
    });
  }
  run.summary.blobsDeleted += finished;
  run.summary.bytesFreed += bytes;
  if (finished > 0) {
    const verb = run.params.dryRun ? 'would finish' : 'finished';
    run.log(`${verb} ${finished} blob deletions an interrupted run had begun (${formatBytes(bytes)})`);
  }
}

/** Step 2: links older than the cutoff that no manifest of their repository needs. */
export async function removeStaleLinks(run: GcRun): Promise<void> {
  const { db } = run.deps;
  let removed = 0;
  // Dry run: the links step 1's cascades would remove are gone before this step in a real run.
  const linkId = (l: StaleLink) => `${l.repositoryId}\0${l.digest}`;
  const cascaded = new Set(run.planned.links.map(linkId));
  for (let after: StaleLink | null = null; ;) {
    const page: StaleLink[] = await staleLinks(db, run.cutoff, after, GC_PAGE, run.planned.manifestIds);
    if (page.length === 0) break;
    after = page[page.length - 1] ?? null;
    if (run.params.dryRun) {
      const fresh = page.filter((l) => !cascaded.has(linkId(l)));
      removed += fresh.length;
      run.planned.links.push(...fresh);
      continue;
    }
    await forEachParallel(page, run.params.workers, run.signal, async (link) => {
      const gone = await db.transaction(async (tx) => {
        await holdBlobExclusive(tx, link.digest);
        return deleteStaleLink(tx, link, run.cutoff);
      });
      if (gone) removed++;
    });
  }
  run.summary.linksRemoved += removed;
  run.log(`${removed} repository links no manifest needs ${run.params.dryRun ? 'would be ' : ''}removed`);
}

/**
 * Step 3: blobs nothing references. Phase A (one transaction, the blob's lock exclusive):
 * recheck everything and move the row to a marker. Phase B: delete the bytes, drop the marker.
 */
export async function collectBlobs(run: GcRun): Promise<void> {
  const { db } = run.deps;
  let eligible = 0;
  let deleted = 0;
  let bytes = 0;
  for (let after: string | null = null; ;) {
    const exclusions = run.params.dryRun ? run.planned : undefined;
    const page: DoomedBlob[] = await unreferencedBlobs(db, run.cutoff, after, GC_PAGE, exclusions);
    if (page.length === 0) break;
    after = page[page.length - 1]?.digest ?? null;
    eligible += page.length;
    if (run.params.dryRun) {
      deleted += page.length;
      bytes += page.reduce((sum, b) => sum + b.size, 0);
      continue;
    }
    await forEachParallel(page, run.params.workers, run.signal, async (blob) => {
      const size = await db.transaction(async (tx) => {
        await holdBlobExclusive(tx, blob.digest);
        return doomBlob(tx, blob.digest, run.cutoff);
      });
      if (size !== null && (await finishDoomed(run, blob.digest))) {
        deleted++;
        bytes += size;
      }
    });
    run.log(`${deleted} blobs deleted so far`);
  }
  run.log(`${eligible} blobs eligible for deletion`);
  run.summary.blobsDeleted += deleted;
  run.summary.bytesFreed += bytes;
  const verb = run.params.dryRun ? 'would be' : 'were';
  run.log(`${deleted} blobs ${verb} deleted, ${bytes} bytes (${formatBytes(bytes)}) ${verb} freed`);
}
