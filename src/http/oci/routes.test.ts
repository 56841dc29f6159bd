import { describe, expect, it } from 'vitest';
import { parseOciPath } from './routes.js';

describe('parseOciPath', () => {
  it('recognises every endpoint, with slashes in names', () => {
    expect(parseOciPath('/v2/')).toEqual({ kind: 'base' });
    expect(parseOciPath('/v2/_catalog')).toEqual({ kind: 'catalog' });
    expect(parseOciPath('/v2/a/b/blobs/uploads/')).toEqual({ kind: 'uploads', name: 'a/b' });
    expect(parseOciPath('/v2/a/blobs/uploads/123')).toEqual({ kind: 'upload', name: 'a', id: '123' });
    expect(parseOciPath('/v2/a/blobs/sha256:ab')).toEqual({ kind: 'blob', name: 'a', digest: 'sha256:ab' });
    expect(parseOciPath('/v2/x/blobs/blobs/sha256:ab')).toEqual({
      kind: 'blob',
      name: 'x/blobs',
      digest: 'sha256:ab',
    });
    expect(parseOciPath('/v2/a/b/c/manifests/latest')).toEqual({
      kind: 'manifest',
      name: 'a/b/c',
      reference: 'latest',
    });
    expect(parseOciPath('/v2/a/tags/list')).toEqual({ kind: 'tags', name: 'a' });
    expect(parseOciPath('/v2/a/referrers/sha256:ab')).toEqual({
      kind: 'referrers',
      name: 'a',
      digest: 'sha256:ab',
    });
  });

  it('rejects what is not a registry path', () => {
    expect(parseOciPath('/v2/a')).toBeNull();
    expect(parseOciPath('/v3/a/tags/list')).toBeNull();
    expect(parseOciPath('/v2/%E0%A4%A')).toBeNull();
  });
});
