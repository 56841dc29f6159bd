import { DatabaseUnavailableError } from '../../metadata/database.js';
import { isCopyError } from '../copy/index.js';
import { isRemoteError } from '../../remote/index.js';

// Which failures of replication work are worth retrying later, unchanged: a peer that is down
// (RemoteError/CopyError `unreachable`) or our own database away. Everything else (refused
// credentials, a bad manifest, a name the peer refuses) fails the same way again.

export function isRetryable(err: unknown): boolean {
  if (isCopyError(err) || isRemoteError(err)) return err.retryable;
  return err instanceof DatabaseUnavailableError;
}

export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
}
