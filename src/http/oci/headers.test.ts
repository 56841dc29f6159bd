import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../domain/errors.js';
import {
  contentLength,
  hasBody,
  pageSizeParam,
  queryValue,
  queryValues,
  requestedRange,
  uploadContentRange,
} from './headers.js';

function request(headers: Record<string, string>): FastifyRequest {
  return { headers } as unknown as FastifyRequest;
}

function errorOf(fn: () => unknown): RegistryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegistryError) return err;
    throw err;
  }
  throw new Error('expected a RegistryError');
}

describe('requestedRange', () => {
  it('is null without a Range header', () => {
    expect(requestedRange(undefined, 100)).toBeNull();
  });

  it('resolves closed, open-ended, suffix and over-long ranges against the size', () => {
    expect(requestedRange('bytes=10-19', 100)).toEqual({ start: 10, end: 19 });
    expect(requestedRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(requestedRange('bytes=-5', 100)).toEqual({ start: 95, end: 99 });
    expect(requestedRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 });
    expect(requestedRange('bytes=50-5000', 100)).toEqual({ start: 50, end: 99 });
    expect(requestedRange('bytes=0-0', 1)).toEqual({ start: 0, end: 0 });
    expect(requestedRange(' BYTES=1-2 ', 100)).toEqual({ start: 1, end: 2 });
  });

  it('never returns a range the storage could not satisfy', () => {
    for (const size of [0, 1, 7, 100]) {
      for (const header of ['bytes=0-', 'bytes=-1', 'bytes=3-', 'bytes=0-200', 'bytes=-200', 'bytes=6-9']) {
        let range: { start: number; end: number } | null;
        try {
          range = requestedRange(header, size);
        } catch (err) {
          expect(err).toBeInstanceOf(RegistryError);
          continue;
        }
        expect(range, `${header} of ${size}`).not.toBeNull();
        const { start, end } = range as { start: number; end: number };
        expect(start, `${header} of ${size}`).toBeGreaterThanOrEqual(0);
        expect(start, `${header} of ${size}`).toBeLessThanOrEqual(end);
        expect(end, `${header} of ${size}`).toBeLessThan(size);
      }
    }
  });

  it('is 416 RANGE_INVALID with the size when unsatisfiable or malformed', () => {
    for (const header of [
      'bytes=100-',
      'bytes=200-300',
      'bytes=20-10',
      'bytes=-0',
      'bytes=-',
      'bytes=a-b',
      'bytes=1',
    ]) {
      const error = errorOf(() => requestedRange(header, 100));
      expect(error.code, header).toBe('RANGE_INVALID');
      expect(error.detail, header).toEqual({ size: 100 });
    }
    expect(errorOf(() => requestedRange('bytes=0-', 0)).code).toBe('RANGE_INVALID');
  });

  it('ignores other units and multiple ranges (the whole blob is sent)', () => {
    expect(requestedRange('items=0-1', 100)).toBeNull();
    expect(requestedRange('bytes=0-1,5-6', 100)).toBeNull();
    expect(requestedRange('garbage', 100)).toBeNull();
  });
});

describe('uploadContentRange', () => {
  it('reads start-end, with or without a unit and total', () => {
    expect(uploadContentRange(request({}))).toBeUndefined();
    expect(uploadContentRange(request({ 'content-range': '0-99' }))).toEqual({ start: 0, end: 99 });
    expect(uploadContentRange(request({ 'content-range': 'bytes 100-199/300' }))).toEqual({
      start: 100,
      end: 199,
    });
    expect(uploadContentRange(request({ 'content-range': 'bytes=5-9/*' }))).toEqual({ start: 5, end: 9 });
  });

  it('is RANGE_INVALID when malformed', () => {
    for (const value of ['abc', '0-', '-5', '1-2-3', 'bytes */100']) {
      expect(errorOf(() => uploadContentRange(request({ 'content-range': value }))).code, value).toBe(
        'RANGE_INVALID',
      );
    }
  });
});

describe('contentLength and hasBody', () => {
  it('reads Content-Length', () => {
    expect(contentLength(request({}))).toBeUndefined();
    expect(contentLength(request({ 'content-length': '0' }))).toBe(0);
    expect(contentLength(request({ 'content-length': '1234' }))).toBe(1234);
    expect(errorOf(() => contentLength(request({ 'content-length': '12a' }))).code).toBe('SIZE_INVALID');
  });

  it('sees a body in a non-zero length or a chunked transfer', () => {
    expect(hasBody(request({}))).toBe(false);
    expect(hasBody(request({ 'content-length': '0' }))).toBe(false);
    expect(hasBody(request({ 'content-length': '1' }))).toBe(true);
    expect(hasBody(request({ 'transfer-encoding': 'chunked' }))).toBe(true);
  });
});

describe('query parameters', () => {
  it('reads single and repeated values', () => {
    expect(queryValues({ tag: ['a', 'b'] }, 'tag')).toEqual(['a', 'b']);
    expect(queryValues({ tag: 'a' }, 'tag')).toEqual(['a']);
    expect(queryValues({}, 'tag')).toEqual([]);
    expect(queryValue({ digest: ['x', 'y'] }, 'digest')).toBe('x');
    expect(queryValue({}, 'digest')).toBeUndefined();
  });

  it('parses n as a non-negative integer', () => {
    expect(pageSizeParam({})).toBeUndefined();
    expect(pageSizeParam({ n: '' })).toBeUndefined();
    expect(pageSizeParam({ n: '0' })).toBe(0);
    expect(pageSizeParam({ n: '25' })).toBe(25);
    for (const n of ['-1', '1.5', 'abc']) {
      const error = errorOf(() => pageSizeParam({ n }));
      expect(error.code, n).toBe('UNSUPPORTED');
      expect(error.status, n).toBe(400);
    }
  });
});
