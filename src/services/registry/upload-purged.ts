import { RegistryError } from '../../domain/errors.js';
import { StorageNotFoundError } from '../../storage/driver.js';

// An upload can be purged while a request is using it: garbage collection and the janitor remove
// sessions idle past the grace period (0 in some deployments' tests), with their data. The
// request then finds its data or its row gone, which is the client's "upload unknown", not a
// server fault: it starts the upload again.

const PURGED_MESSAGE =
  'the upload was purged while this request used it (idle uploads are removed after the grace period); start it again';

/** The error to answer when `err` came from an upload purged meanwhile; `err` itself otherwise. */
export async function unlessPurged(err: unknown, sessionExists: () => Promise<boolean>): Promise<never> {
  if (err instanceof RegistryError && err.code === 'BLOB_UPLOAD_UNKNOWN') throw err;
  if (!(await sessionExists().catch(() => true)))
    throw new RegistryError('BLOB_UPLOAD_UNKNOWN', PURGED_MESSAGE);
  throw err;
}

/** For an upload without a session row (a monolithic POST): its data vanished under it. */
export function unlessDataPurged(err: unknown): never {
  if (isMissingData(err)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', PURGED_MESSAGE);
  throw err;
}

function isMissingData(err: unknown): boolean {
  if (err instanceof StorageNotFoundError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  const name = (err as { name?: unknown } | null)?.name;
  return code === 'ENOENT' || name === 'NoSuchKey' || name === 'NotFound';
}
