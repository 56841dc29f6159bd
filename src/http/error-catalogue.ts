import type { ErrorCode, RegistryErrorCode } from '../domain/errors.js';

// The one catalogue of errors: for each domain error code, its HTTP status and the code a client
// reads in the body, on /v2 (a code of the OCI spec's list) and on the management API (Harbor's
// codes, which are named after the HTTP status). Adding a code to domain/errors.ts without an
// entry here does not compile.

/**
 * The codes a /v2 error body may carry: the registry codes of domain/errors.ts (the spec's list
 * and distribution's extensions) except MANIFEST_TOO_LARGE, which renders as SIZE_INVALID (the
 * spec has no code of its own for it), plus UNKNOWN, the code of a 500.
 */
export type OciCode = Exclude<RegistryErrorCode, 'MANIFEST_TOO_LARGE'> | 'UNKNOWN';

/** Harbor's error codes, one per HTTP status (src/lib/errors in Harbor). */
export const HARBOR_CODES = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  412: 'PRECONDITION',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
} as const;

export type HarborCode = (typeof HARBOR_CODES)[keyof typeof HARBOR_CODES];

export interface CatalogueEntry {
  status: number;
  oci: OciCode;
  /** What the client is told instead of the error's own message (which is for the log). */
  publicMessage?: string;
  /** A Retry-After every answer of this code carries. */
  retryAfterSeconds?: number;
}

export const ERROR_CATALOGUE: Record<ErrorCode, CatalogueEntry> = {
  BLOB_UNKNOWN: { status: 404, oci: 'BLOB_UNKNOWN' },
  BLOB_UPLOAD_INVALID: { status: 400, oci: 'BLOB_UPLOAD_INVALID' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, oci: 'BLOB_UPLOAD_UNKNOWN' },
  DIGEST_INVALID: { status: 400, oci: 'DIGEST_INVALID' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, oci: 'MANIFEST_BLOB_UNKNOWN' },
  MANIFEST_INVALID: { status: 400, oci: 'MANIFEST_INVALID' },
  MANIFEST_UNKNOWN: { status: 404, oci: 'MANIFEST_UNKNOWN' },
  TAG_INVALID: { status: 400, oci: 'TAG_INVALID' },
  NAME_INVALID: { status: 400, oci: 'NAME_INVALID' },
  NAME_UNKNOWN: { status: 404, oci: 'NAME_UNKNOWN' },
  SIZE_INVALID: { status: 400, oci: 'SIZE_INVALID' },
  UNAUTHORIZED: { status: 401, oci: 'UNAUTHORIZED' },
  DENIED: { status: 403, oci: 'DENIED' },
  UNSUPPORTED: { status: 405, oci: 'UNSUPPORTED' },
  TOOMANYREQUESTS: { status: 429, oci: 'TOOMANYREQUESTS' },
  RANGE_INVALID: { status: 416, oci: 'RANGE_INVALID' },
  // The spec reports a manifest over the size limit as SIZE_INVALID, with 413.
  MANIFEST_TOO_LARGE: { status: 413, oci: 'SIZE_INVALID' },
  UNAVAILABLE: { status: 503, oci: 'UNAVAILABLE', retryAfterSeconds: 1 },

  // The management services' codes; on /v2 they take the nearest code of the spec's list.
  BAD_REQUEST: { status: 400, oci: 'UNSUPPORTED' },
  FORBIDDEN: { status: 403, oci: 'DENIED' },
  NOT_FOUND: { status: 404, oci: 'NAME_UNKNOWN' },
  METHOD_NOT_ALLOWED: { status: 405, oci: 'UNSUPPORTED' },
  CONFLICT: { status: 409, oci: 'UNSUPPORTED' },
  PRECONDITION: { status: 412, oci: 'UNSUPPORTED' },
  UNPROCESSABLE_ENTITY: { status: 422, oci: 'UNSUPPORTED' },

  // A push into a project that does not exist: the repository's name is unknown.
  PROJECT_MISSING: { status: 404, oci: 'NAME_UNKNOWN' },
  DATABASE_UNAVAILABLE: {
    status: 503,
    oci: 'UNAVAILABLE',
    publicMessage: 'the metadata database is unavailable; retry later',
    retryAfterSeconds: 5,
  },
  INTERNAL: { status: 500, oci: 'UNKNOWN' },
};

/** Harbor's code for a status; a status Harbor has no code for is named by its class. */
export function harborCode(status: number): HarborCode {
  const exact = (HARBOR_CODES as Record<number, HarborCode>)[status];
  if (exact) return exact;
  return status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST';
}

export interface ErrorBody {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

/** The OCI error body; `detail` is the spec's optional structured field. */
export function ociErrorBody(code: OciCode, message: string, detail?: unknown): ErrorBody {
  return { errors: [{ code, message, ...(detail !== undefined && { detail }) }] };
}

/** Harbor's error body: the same envelope, without detail. */
export function harborErrorBody(code: HarborCode, message: string): ErrorBody {
  return { errors: [{ code, message }] };
}
