import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../../domain/errors.js';

// Header parsing shared by the /v2 handlers.

/** Content-Length as a number, or undefined when absent. SIZE_INVALID when malformed. */
export function contentLength(request: FastifyRequest): number | undefined {
  const raw = request.headers['content-length'];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new RegistryError('SIZE_INVALID', 'Content-Length is not a number');
  return Number(raw);
}

/** Whether the request carries a body (a non-zero length, or chunked transfer encoding). */
export function hasBody(request: FastifyRequest): boolean {
  const length = contentLength(request);
  if (length !== undefined) return length > 0;
  return request.headers['transfer-encoding'] !== undefined;
}

/** Content-Range of an upload chunk: `start-end` (inclusive), optionally prefixed by "bytes". */
export function uploadContentRange(request: FastifyRequest): { start: number; end: number } | undefined {
  const raw = request.headers['content-range'];
  if (raw === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(raw.trim());
  if (!m) throw new RegistryError('RANGE_INVALID', `malformed Content-Range "${raw.slice(0, 60)}"`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

/**
 * The Range of a blob GET resolved against its size: null when the whole blob is to be sent, 416
 * RANGE_INVALID when the range is malformed or unsatisfiable. Per RFC 9110 §14.2, a range in a unit
 * other than bytes is ignored; so is a request for several ranges (which the RFC allows), since
 * clients resuming a download ask for one and a multipart answer would only complicate them.
 */
export function requestedRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null {
  if (header === undefined) return null;
  const spec = header.trim();
  const unit = /^([^=]*)=/.exec(spec)?.[1]?.trim().toLowerCase();
  if (unit !== 'bytes' || spec.includes(',')) return null;
  const m = /^bytes=(\d*)-(\d*)$/i.exec(spec);
  if (!m || (m[1] === '' && m[2] === '')) {
    throw new RegistryError('RANGE_INVALID', `unsupported Range "${header.slice(0, 60)}"`, { size });
  }
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) {
    throw new RegistryError(
      'RANGE_INVALID',
      `range ${header.slice(0, 60)} is outside the blob (${size} bytes)`,
      { size },
    );
  }
  return { start, end };
}

/** Longest query value accepted: far above any name, digest, media type or scope list. */
export const MAX_QUERY_VALUE_LENGTH = 4096;

/**
 * Every value of a repeated query parameter (`?tag=a&tag=b`). A NUL (which PostgreSQL text cannot
 * hold) or an absurdly long value is a client error here, before any service sees it.
 */
export function queryValues(query: unknown, name: string): string[] {
  const value: unknown = typeof query === 'object' && query !== null ? Reflect.get(query, name) : undefined;
  if (value === undefined) return [];
  const values = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
  for (const v of values) {
    if (v.includes('\0') || v.length > MAX_QUERY_VALUE_LENGTH) {
      throw new RegistryError(
        'UNSUPPORTED',
        `query parameter ${name} must be text without NUL, at most ${MAX_QUERY_VALUE_LENGTH} characters`,
        undefined,
        400,
      );
    }
  }
  return values;
}

export function queryValue(query: unknown, name: string): string | undefined {
  return queryValues(query, name)[0];
}

/** Parses `n` for paginated lists; a malformed value is a client error. */
export function pageSizeParam(query: unknown): number | undefined {
  const n = queryValue(query, 'n');
  if (n === undefined || n === '') return undefined;
  if (!/^\d+$/.test(n))
    throw new RegistryError('UNSUPPORTED', 'n must be a non-negative integer', undefined, 400);
  return Number(n);
}
