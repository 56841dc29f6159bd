import { describe, expect, it } from 'vitest';
import { createLocalLookupCache, disabledLookupCache } from './lookup-cache.js';

describe('lookup cache', () => {
  it('keeps entries per repository and drops them all on invalidate', async () => {
    const cache = createLocalLookupCache(100);
    cache.set('a', 'latest', 1, cache.epoch());
    cache.set('a', 'v1', 2, cache.epoch());
    cache.set('b', 'latest', 3, cache.epoch());
    expect(cache.get('a', 'latest')).toBe(1);
    await cache.invalidate('a');
    expect(cache.get('a', 'latest')).toBeUndefined();
    expect(cache.get('a', 'v1')).toBeUndefined();
    expect(cache.get('b', 'latest')).toBe(3);
  });

  it('stays within its bound by evicting other repositories', async () => {
    const cache = createLocalLookupCache(3);
    for (const [i, repo] of ['a', 'b', 'c', 'd'].entries()) cache.set(repo, 'x', i + 1, cache.epoch());
    expect(cache.get('a', 'x')).toBeUndefined();
    expect(cache.get('d', 'x')).toBe(4);
  });

  it('ignores an answer read before a write invalidated the repository', async () => {
    const cache = createLocalLookupCache(100);
    const before = cache.epoch();
    await cache.invalidate('a');
    cache.set('a', 'latest', 'stale', before);
    expect(cache.get('a', 'latest')).toBeUndefined();
  });

  it('the disabled cache never answers', async () => {
    disabledLookupCache.set('a', 'x', 1, disabledLookupCache.epoch());
    expect(disabledLookupCache.get('a', 'x')).toBeUndefined();
  });
});
