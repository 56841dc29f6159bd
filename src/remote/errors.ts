// Errors of the remote-registry client, typed so that replication can tell "the peer is down or
// overloaded, retry later" (unreachable) from answers that retrying will not change.

export type RemoteErrorKind =
  /** No answer: connection refused or reset, DNS, TLS failure, timeout, or a 5xx/429 from the peer. */
  | 'unreachable'
  /** The peer refused the credentials (401) or the credentials lack the right (403). */
  | 'unauthorized'
  /** The repository, manifest, blob or upload does not exist on the peer (404). */
  | 'not-found'
  /** Anything else: a 4xx the request caused, an answer that breaks the protocol. */
  | 'other';

export class RemoteError extends Error {
  constructor(
    readonly kind: RemoteErrorKind,
    message: string,
    /** The HTTP status, when the peer answered. */
    readonly status?: number,
    /** The peer's OCI error code (e.g. BLOB_UNKNOWN, DENIED), when it sent one. */
    readonly code?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RemoteError';
  }

  /** Worth trying again later, unchanged: the peer was down, slow or overloaded. */
  get retryable(): boolean {
    return this.kind === 'unreachable';
  }
}

export function isRemoteError(err: unknown, kind?: RemoteErrorKind): err is RemoteError {
  return err instanceof RemoteError && (kind === undefined || err.kind === kind);
}

/** The kind for a status the peer answered with (only for failures: status >= 400). */
export function kindOfStatus(status: number): RemoteErrorKind {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not-found';
  if (status === 408 || status === 429 || status >= 500) return 'unreachable';
  return 'other';
}
