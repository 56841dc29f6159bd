import { countStaleUploadSessions, digestsClaimed, uploadSessionExists } from '../../metadata/gc-queries.js';
import { listUploadSessionIds } from '../../metadata/uploads-table.js';
import { BLOBS_PREFIX, UPLOADS_PREFIX, digestFromBlobKey, uploadPrefix } from '../../storage/paths.js';
import { purgeUploadsIdleSince } from '../registry/upload-janitor.js';
import { forEachParallel, GC_PAGE, type GcRun } from './gc-context.js';
import { formatBytes } from './gc-summary.js';
import { actOnUnclaimedBlob } from './unclaimed-blob.js';

// Step 4: what storage holds that no row names. Blob objects without a blob row or a marker
// (left by a crash between writing bytes and committing their row) and older than the cutoff are
// deleted under the blob's exclusive lock after a recheck: a writer about to commit that row
// holds the lock shared. Then abandoned uploads: sessions idle since the cutoff (the same
// janitor as upload-janitor.ts), and upload data whose session row is gone.

interface Orphan {
  key: string;
  digest: string;
  size: number;
}

/** Of a page of listed keys, those no row claims and older than the cutoff. */
async function orphansAmong(run: GcRun, keys: readonly { key: string; digest: string }[]): Promise<Orphan[]> {
  const claimed = await digestsClaimed(
    run.deps.db,
    keys.map((k) => k.digest),
  );
  const orphans: Orphan[] = [];
  for (const { key, digest } of keys) {
    if (claimed.has(digest)) continue;
    const info = await run.deps.storage.stat(key);
    if (info && info.modifiedAt < run.cutoff) orphans.push({ key, digest, size: info.size });
  }
  return orphans;
}

async function deleteOrphans(
  run: GcRun,
  orphans: readonly Orphan[],
): Promise<{ count: number; bytes: number }> {
  const { db, storage } = run.deps;
  const done = { count: 0, bytes: 0 };
  if (run.params.dryRun) return { count: orphans.length, bytes: orphans.reduce((s, o) => s + o.size, 0) };
  await forEachParallel(orphans, run.params.workers, run.signal, async (orphan) => {
    if (await actOnUnclaimedBlob(db, orphan.digest, () => storage.delete(orphan.key))) {
      done.count++;
      done.bytes += orphan.size;
    }
  });
  return done;
}

/** Blob objects no row names, older than the cutoff. */
export async function removeOrphanBlobs(run: GcRun): Promise<void> {
  let count = 0;
  let bytes = 0;
  let page: { key: string; digest: string }[] = [];
  const flush = async () => {
    const done = await deleteOrphans(run, await orphansAmong(run, page));
    count += done.count;
    bytes += done.bytes;
    page = [];
  };
  // Checked and deleted a page at a time: a listing is never asked to survive many of its own deletions.
  for await (const key of run.deps.storage.list(BLOBS_PREFIX)) {
    run.signal.throwIfAborted();
    const digest = digestFromBlobKey(key);
    if (digest) page.push({ key, digest });
    if (page.length >= GC_PAGE) await flush();
  }
  await flush();
  run.summary.orphansRemoved += count;
  run.summary.bytesFreed += bytes;
  const verb = run.params.dryRun ? 'would be' : 'were';
  run.log(`${count} objects in storage that no blob names ${verb} deleted (${formatBytes(bytes)})`);
}

/** Upload sessions idle since the cutoff, then upload data without a session. */
export async function purgeAbandonedUploads(run: GcRun): Promise<void> {
  const { db, storage } = run.deps;
  const purged = run.params.dryRun
    ? await countStaleUploadSessions(db, run.cutoff)
    : await purgeUploadsIdleSince(run.deps, run.cutoff, run.signal);
  run.summary.uploadSessionsPurged += purged;
  // Data of sessions that no longer exist, by session id; young data may belong to a session
  // being created or committed right now.
  const sessions = await listUploadSessionIds(db);
  const newest = new Map<string, number>();
  for await (const key of storage.list(UPLOADS_PREFIX)) {
    const id = key.split('/')[1] ?? '';
    if (sessions.has(id) || id === '') continue;
    const info = await storage.stat(key);
    const modified = info?.modifiedAt.getTime() ?? 0;
    newest.set(id, Math.max(newest.get(id) ?? 0, modified));
  }
  let orphans = 0;
  for (const [id, modified] of newest) {
    run.signal.throwIfAborted();
    if (modified >= run.cutoff.getTime()) continue;
    if (!run.params.dryRun) {
      if (await uploadSessionExists(db, id)) continue;
      await storage.deletePrefix(uploadPrefix(id));
    }
    orphans++;
  }
  run.summary.orphansRemoved += orphans;
  const verb = run.params.dryRun ? 'would be' : 'were';
  run.log(
    `${purged} abandoned upload sessions and ${orphans} upload directories without a session ${verb} purged`,
  );
}
