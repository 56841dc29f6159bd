import { deleteUploadSession, staleUploadSessions } from '../../metadata/uploads-table.js';
import { uploadPrefix } from '../../storage/paths.js';
import type { RegistryDeps } from './deps.js';

/**
 * Removes upload sessions nobody has touched for `maxAgeMs` (clients that gave up). Every
 * instance may run it: deleting a session and its bytes is idempotent.
 */
export async function purgeStaleUploads(deps: RegistryDeps, maxAgeMs: number): Promise<number> {
  const before = new Date(Date.now() - maxAgeMs);
  let purged = 0;
  for (;;) {
    const ids = await staleUploadSessions(deps.db, before, 100);
    if (ids.length === 0) return purged;
    for (const id of ids) {
      await deleteUploadSession(deps.db, id);
      await deps.storage.deletePrefix(uploadPrefix(id));
      purged++;
    }
  }
}
