// Domain errors. Services throw these; the HTTP edge maps each code to a status and the
// OCI (or management API) error body in one catalogue (http/error-catalogue.ts).

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

export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  readonly detail: unknown;
  /** Overrides the catalogue's status where the spec wants another one for this situation. */
  readonly status: number | undefined;

  constructor(code: RegistryErrorCode, message: string, detail?: unknown, status?: number) {
    super(message);
    this.name = 'RegistryError';
    this.code = code;
    this.detail = detail;
    this.status = status;
  }
}

export function registryError(code: RegistryErrorCode, message: string, detail?: unknown): RegistryError {
  return new RegistryError(code, message, detail);
}
