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

  it('decodes each part on its own, so an encoded slash never moves the name boundary', () => {
    expect(parseOciPath('/v2/x/manifests/a%2Fmanifests%2Fb')).toEqual({
      kind: 'manifest',
      name: 'x',
      reference: 'a/manifests/b',
    });
    expect(parseOciPath('/v2/a%2F..%2Fb/tags/list')).toEqual({ kind: 'tags', name: 'a/../b' });
    expect(parseOciPath('/v2/a/blobs/sha256:..%2F..%2Fx')).toEqual({
      kind: 'blob',
      name: 'a',
      digest: 'sha256:../../x',
    });
    expect(parseOciPath('/v2/a/blobs/uploads/%2e%2e')).toEqual({ kind: 'upload', name: 'a', id: '..' });
    expect(parseOciPath('/v2/%5Fcatalog')).toEqual({ kind: 'catalog' });
    // The literal dot segments reach the name, where validation refuses them.
    expect(parseOciPath('/v2/a/../b/tags/list')).toEqual({ kind: 'tags', name: 'a/../b' });
  });

  it('rejects what is not a registry path', () => {
    expect(parseOciPath('/v2/a')).toBeNull();
    expect(parseOciPath('/v3/a/tags/list')).toBeNull();
    expect(parseOciPath('/v2/%E0%A4%A')).toBeNull();
    expect(parseOciPath('/v2/a%E0%A4%A/tags/list')).toBeNull();
    expect(parseOciPath('/v2/a/manifests/%E0%A4%A')).toBeNull();
    expect(parseOciPath('/v2/a/tags/list%2F..')).toBeNull();
    expect(parseOciPath('/v2/_catalog/x')).toBeNull();
  });
});
