import { holdBlobExclusive } from '../../metadata/blob-guard.js';
import type { Database } from '../../metadata/database.js';
import { blobRowOrMarkerExists } from '../../metadata/gc-queries.js';

/**
 * Runs `act` (delete, quarantine) on bytes that no blob row and no GC marker names, under the
 * blob's exclusive lock after rechecking that: a push committing that row meanwhile, or a GC
 * deletion in progress (which owns the bytes), keeps them. True when `act` ran.
 */
export function actOnUnclaimedBlob(db: Database, digest: string, act: () => Promise<void>): Promise<boolean> {
  return db.transaction(async (tx) => {
    await holdBlobExclusive(tx, digest);
    if (await blobRowOrMarkerExists(tx, digest)) return false;
    await act();
    return true;
  });
}
