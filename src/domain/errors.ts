// Domain errors: the one error hierarchy. Services, metadata and domain code throw a DomainError
// carrying a catalogue code; the HTTP edge renders it (http/error-catalogue.ts holds each code's
// status and its OCI and Harbor codes), so nothing below http knows a status or a body shape.

/** Codes of the OCI Distribution spec (and distribution's TAG_INVALID, RANGE_INVALID, UNAVAILABLE). */
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'TAG_INVALID'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  | 'MANIFEST_TOO_LARGE'
  | 'UNAVAILABLE';

/** Codes of the management services, named as Harbor names them on its API. */
export type ManagementErrorCode =
  | 'BAD_REQUEST'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'PRECONDITION'
  | 'UNPROCESSABLE_ENTITY';

/** Codes of conditions rather than requests: a missing project on push, a database that is down, a bug. */
export type ConditionErrorCode = 'PROJECT_MISSING' | 'DATABASE_UNAVAILABLE' | 'INTERNAL';

export type ErrorCode = RegistryErrorCode | ManagementErrorCode | ConditionErrorCode;

export class DomainError extends Error {
  readonly code: ErrorCode;
  /** Structured facts for the client (OCI `detail`) and for headers (size, offset, retryAfterSeconds). */
  readonly detail: unknown;
  /** Overrides the catalogue's status where the spec wants another one for this situation. */
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, detail?: unknown, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DomainError';
    this.code = code;
    this.detail = detail;
    this.status = status;
  }
}

/** The registry's errors (the /v2 push and pull rules): a DomainError with a spec code. */
export class RegistryError extends DomainError {
  declare readonly code: RegistryErrorCode;

  constructor(code: RegistryErrorCode, message: string, detail?: unknown, status?: number) {
    super(code, message, detail, status);
    this.name = 'RegistryError';
  }
}

export function registryError(code: RegistryErrorCode, message: string, detail?: unknown): RegistryError {
  return new RegistryError(code, message, detail);
}

/**
 * A tag protected by a tag immutability rule: it may not be overwritten, deleted or removed, by
 * any caller (a push, the API, retention, replication). Carries the tag so callers can report it.
 * 412 as Harbor answers; DENIED on /v2 (a client prints "denied: ..." with this message), and
 * Harbor's PRECONDITION on the API (named after the status).
 */
export class ImmutableTagError extends DomainError {
  // Declared fields, not parameter properties: tools load this file with Node's type stripping.
  readonly repository: string;
  readonly tag: string;

  constructor(repository: string, tag: string, action: 'overwritten' | 'deleted') {
    super(
      'DENIED',
      `tag ${tag} in ${repository} is immutable (a tag immutability rule matches it): it cannot be ${action}`,
      { repository, tag },
      412,
    );
    this.repository = repository;
    this.tag = tag;
    this.name = 'ImmutableTagError';
  }
}
