import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../domain/errors.js';
import {
  ERROR_CATALOGUE,
  HARBOR_CODES,
  harborCode,
  harborErrorBody,
  ociErrorBody,
} from './error-catalogue.js';

/** The error codes of the OCI Distribution spec's table. */
const SPEC_CODES = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
];
/** distribution's codes beyond the spec that clients know and print. */
const DISTRIBUTION_CODES = ['TAG_INVALID', 'RANGE_INVALID', 'UNAVAILABLE', 'UNKNOWN'];

const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

describe('error catalogue', () => {
  it('maps every spec code to the status the spec gives it', () => {
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
      expect(ERROR_CATALOGUE[code as ErrorCode], code).toEqual({ status, oci: code });
    }
    expect(ERROR_CATALOGUE.MANIFEST_TOO_LARGE).toEqual({ status: 413, oci: 'SIZE_INVALID' });
    expect(ERROR_CATALOGUE.UNAVAILABLE.status).toBe(503);
  });

  it('gives every code a 4xx or 5xx status and an OCI code of the allowed list', () => {
    const allowed = new Set([...SPEC_CODES, ...DISTRIBUTION_CODES]);
    for (const code of codes) {
      const entry = ERROR_CATALOGUE[code];
      expect(entry.status, code).toBeGreaterThanOrEqual(400);
      expect(entry.status, code).toBeLessThan(600);
      expect(allowed.has(entry.oci), `${code} renders as ${entry.oci}`).toBe(true);
    }
  });

  it('renders every code in both shapes, and the management codes as themselves on the API', () => {
    for (const code of codes) {
      const entry = ERROR_CATALOGUE[code];
      const oci = ociErrorBody(entry.oci, 'message');
      const harbor = harborErrorBody(harborCode(entry.status), 'message');
      expect(oci.errors[0]?.code).toBe(entry.oci);
      expect(Object.values(HARBOR_CODES)).toContain(harbor.errors[0]?.code);
    }
    const management = [
      'BAD_REQUEST',
      'UNAUTHORIZED',
      'FORBIDDEN',
      'NOT_FOUND',
      'METHOD_NOT_ALLOWED',
      'CONFLICT',
      'PRECONDITION',
      'UNPROCESSABLE_ENTITY',
    ] as const;
    for (const code of management) expect(harborCode(ERROR_CATALOGUE[code].status), code).toBe(code);
    expect(harborCode(ERROR_CATALOGUE.TOOMANYREQUESTS.status)).toBe('TOO_MANY_REQUESTS');
    expect(harborCode(ERROR_CATALOGUE.DATABASE_UNAVAILABLE.status)).toBe('SERVICE_UNAVAILABLE');
    expect(harborCode(ERROR_CATALOGUE.INTERNAL.status)).toBe('INTERNAL_SERVER_ERROR');
  });

  it('keeps the statuses of the management codes unique, so a status names one Harbor code', () => {
    const management = codes.filter((code) => (Object.values(HARBOR_CODES) as string[]).includes(code));
    const statuses = management.map((code) => ERROR_CATALOGUE[code].status);
    expect(management.length).toBeGreaterThanOrEqual(8);
    expect(new Set(statuses).size).toBe(statuses.length);
  });

  it('names a status Harbor has no code for by its class', () => {
    expect(harborCode(413)).toBe('BAD_REQUEST');
    expect(harborCode(416)).toBe('BAD_REQUEST');
    expect(harborCode(502)).toBe('INTERNAL_SERVER_ERROR');
  });

  it('tells the client a fixed message, never the driver failure, when the database is down', () => {
    expect(ERROR_CATALOGUE.DATABASE_UNAVAILABLE.publicMessage).toMatch(/unavailable/);
    expect(ERROR_CATALOGUE.DATABASE_UNAVAILABLE.retryAfterSeconds).toBe(5);
  });

  it('builds the error bodies', () => {
    expect(ociErrorBody('BLOB_UNKNOWN', 'nope')).toEqual({
      errors: [{ code: 'BLOB_UNKNOWN', message: 'nope' }],
    });
    expect(ociErrorBody('SIZE_INVALID', 'x', { a: 1 }).errors[0]?.detail).toEqual({ a: 1 });
    expect(harborErrorBody('NOT_FOUND', 'gone')).toEqual({
      errors: [{ code: 'NOT_FOUND', message: 'gone' }],
    });
  });
});
