import type { Queryable } from '../../metadata/database.js';
import { deleteIdleUploadSession, staleUploadSessions } from '../../metadata/uploads-table.js';
import type { StorageDriver } from '../../storage/driver.js';
import { uploadPrefix } from '../../storage/paths.js';
import type { RegistryDeps } from './deps.js';

/**
 * Removes upload sessions nobody has touched for `maxAgeMs` (clients that gave up). Every
 * instance may run it: deleting a session and its bytes is idempotent.
 */
export async function purgeStaleUploads(deps: RegistryDeps, maxAgeMs: number): Promise<number> {
  return purgeUploadsIdleSince(deps, new Date(Date.now() - maxAgeMs));
}

/**
 * Removes the upload sessions (row, then bytes) untouched since `before`; garbage collection
 * calls it with its cutoff. Stops between sessions when `signal` fires. Returns how many went.
 */
export async function purgeUploadsIdleSince(
  deps: { db: Queryable; storage: StorageDriver },
  before: Date,
  signal?: AbortSignal,
): Promise<number> {
  let purged = 0;
  for (;;) {
    const ids = await staleUploadSessions(deps.db, before, 100);
    if (ids.length === 0) return purged;
    for (const id of ids) {
      signal?.throwIfAborted();
      // Only a session this purge removed loses its bytes: one finished or used meanwhile keeps them.
      if (!(await deleteIdleUploadSession(deps.db, id, before))) continue;
      await deps.storage.deletePrefix(uploadPrefix(id));
      purged++;
    }
  }
}
