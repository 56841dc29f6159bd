import type { RegistryErrorCode } from '../domain/errors.js';

// The one mapping from domain error codes to HTTP statuses and the codes clients see.

interface CatalogueEntry {
  status: number;
  /** The code in the OCI error body (MANIFEST_TOO_LARGE is reported as the spec's SIZE_INVALID). */
  code: string;
}

export const ERROR_CATALOGUE: Record<RegistryErrorCode, CatalogueEntry> = {
  BLOB_UNKNOWN: { status: 404, code: 'BLOB_UNKNOWN' },
  BLOB_UPLOAD_INVALID: { status: 400, code: 'BLOB_UPLOAD_INVALID' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, code: 'BLOB_UPLOAD_UNKNOWN' },
  DIGEST_INVALID: { status: 400, code: 'DIGEST_INVALID' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN' },
  MANIFEST_INVALID: { status: 400, code: 'MANIFEST_INVALID' },
  MANIFEST_UNKNOWN: { status: 404, code: 'MANIFEST_UNKNOWN' },
  // Not in the OCI spec's table; distribution's code for a tag a push may not use, which clients print.
  TAG_INVALID: { status: 400, code: 'TAG_INVALID' },
  NAME_INVALID: { status: 400, code: 'NAME_INVALID' },
  NAME_UNKNOWN: { status: 404, code: 'NAME_UNKNOWN' },
  SIZE_INVALID: { status: 400, code: 'SIZE_INVALID' },
  UNAUTHORIZED: { status: 401, code: 'UNAUTHORIZED' },
  DENIED: { status: 403, code: 'DENIED' },
  UNSUPPORTED: { status: 405, code: 'UNSUPPORTED' },
  TOOMANYREQUESTS: { status: 429, code: 'TOOMANYREQUESTS' },
  RANGE_INVALID: { status: 416, code: 'RANGE_INVALID' },
  MANIFEST_TOO_LARGE: { status: 413, code: 'SIZE_INVALID' },
  UNAVAILABLE: { status: 503, code: 'UNAVAILABLE' },
};

export interface OciErrorBody {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

export function ociErrorBody(code: string, message: string, detail?: unknown): OciErrorBody {
  return { errors: [{ code, message, ...(detail !== undefined && { detail }) }] };
}
