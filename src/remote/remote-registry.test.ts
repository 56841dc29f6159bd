import { describe, expect, it } from 'vitest';
import { RemoteError } from './errors.js';
import { normaliseUrl } from './remote-registry.js';
import { offsetOf } from './uploads.js';
import { kindOfStatus } from './errors.js';

describe('normaliseUrl', () => {
  it('keeps scheme, host, port and path, without trailing slashes', () => {
    expect(normaliseUrl('https://Registry.Example:5000/')).toBe('https://registry.example:5000');
    expect(normaliseUrl('http://127.0.0.1:8080/sub/path//')).toBe('http://127.0.0.1:8080/sub/path');
  });
  it('refuses what is no http(s) endpoint', () => {
    for (const bad of ['ftp://host', 'not a url', 'http://user:pw@host', 'http://host/?q=1', '']) {
      expect(() => normaliseUrl(bad)).toThrow(RemoteError);
    }
  });
});

describe('offsetOf (an upload session Range header)', () => {
  it('is the next byte to send', () => {
    expect(offsetOf('0-1023')).toBe(1024);
    expect(offsetOf('bytes=0-9')).toBe(10);
    expect(offsetOf('0--1')).toBe(0);
    expect(offsetOf(undefined)).toBe(0);
  });
});

describe('kindOfStatus', () => {
  it('tells retry-later from the rest', () => {
    expect([401, 403, 404, 400, 409, 429, 500, 503].map(kindOfStatus)).toEqual([
      'unauthorized',
      'unauthorized',
      'not-found',
      'other',
      'other',
      'unreachable',
      'unreachable',
      'unreachable',
    ]);
  });
});
