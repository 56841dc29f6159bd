import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ociErrorBody } from './error-catalogue.js';

describe('error catalogue', () => {
  it('maps every spec code to its status', () => {
    const expected: Record<string, number> = {
      BLOB_UNKNOWN: 404,
      BLOB_UPLOAD_INVALID: 400,
      BLOB_UPLOAD_UNKNOWN: 404,
      DIGEST_INVALID: 400,
      MANIFEST_BLOB_UNKNOWN: 400,
      MANIFEST_INVALID: 400,
      MANIFEST_UNKNOWN: 404,
      NAME_INVALID: 400,
      NAME_UNKNOWN: 404,
      SIZE_INVALID: 400,
      UNAUTHORIZED: 401,
      DENIED: 403,
      UNSUPPORTED: 405,
      TOOMANYREQUESTS: 429,
      RANGE_INVALID: 416,
    };
    for (const [code, status] of Object.entries(expected)) {
      const entry = ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE];
      expect(entry, code).toEqual({ status, code });
    }
    expect(ERROR_CATALOGUE.MANIFEST_TOO_LARGE.status).toBe(413);
    expect(ERROR_CATALOGUE.UNAVAILABLE.status).toBe(503);
  });

  it('builds the spec error body', () => {
    expect(ociErrorBody('BLOB_UNKNOWN', 'nope')).toEqual({
      errors: [{ code: 'BLOB_UNKNOWN', message: 'nope' }],
    });
    expect(ociErrorBody('SIZE_INVALID', 'x', { a: 1 }).errors[0]?.detail).toEqual({ a: 1 });
  });
});
