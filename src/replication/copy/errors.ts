import { isRemoteError, type RemoteErrorKind } from '../../remote/index.js';

// Errors of the copy engine, typed for the job layer: `retryable` (a peer was down or the link
// kept breaking) means "run the same copy again later"; everything else will fail the same way
// until someone changes the content, the credentials or the policy.

export type CopyErrorKind =
  | RemoteErrorKind
  /** Bytes that do not match their digest or size: a corrupt source or a broken peer. */
  | 'integrity'
  /** The source's content is not something the engine can copy (unknown manifest type, bad JSON). */
  | 'invalid'
  /** The caller's signal stopped the copy. */
  | 'aborted';

/** Which peer the failure came from, when it came from one. */
export type CopySide = 'source' | 'destination';

export class CopyError extends Error {
  constructor(
    readonly kind: CopyErrorKind,
    message: string,
    readonly side?: CopySide,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CopyError';
  }

  get retryable(): boolean {
    return this.kind === 'unreachable';
  }
}

export function isCopyError(err: unknown, kind?: CopyErrorKind): err is CopyError {
  return err instanceof CopyError && (kind === undefined || err.kind === kind);
}

/** A failure of a call to one peer as a CopyError naming that peer (CopyErrors pass through). */
export function asCopyError(err: unknown, side: CopySide, signal?: AbortSignal): CopyError {
  if (err instanceof CopyError) return err;
  if (signal?.aborted) return abortedError(signal);
  if (isRemoteError(err)) return new CopyError(err.kind, `${side}: ${err.message}`, side, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new CopyError('other', `${side}: ${message}`, side, { cause: err });
}

export function abortedError(signal: AbortSignal): CopyError {
  return new CopyError('aborted', 'the copy was stopped', undefined, { cause: signal.reason });
}

/** Runs one call to a peer; its failure becomes a CopyError naming the peer. */
export async function onPeer<T>(
  side: CopySide,
  signal: AbortSignal | undefined,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw asCopyError(err, side, signal);
  }
}
