import { describe, expect, it } from 'vitest';
import { destinationRepository } from './naming.js';

// Harbor's cases (its documentation's flattening options and its own replaceNamespace tests).
const CASES: Array<[repository: string, namespace: string, count: number, expected: string | null]> = [
  // no namespace: the source name, whatever the count
  ['c', '', 0, 'c'],
  ['a/b/c', '', -1, 'a/b/c'],
  ['a/b/c', '', 2, 'a/b/c'],
  ['a/b/c', '', 9, 'a/b/c'],
  // -1, the legacy mode: "Flatten All Levels"
  ['c', 'n', -1, 'n/c'],
  ['b/c', 'n', -1, 'n/c'],
  ['a/b/c', 'n', -1, 'n/c'],
  ['a/b/c/d/img', 'namespace', -1, 'namespace/img'],
  ['a/b/c', 'n', -5, 'n/c'],
  // 0: "No Flattening"
  ['a', 'n', 0, 'n/a'],
  ['a/b/c', 'n', 0, 'n/a/b/c'],
  ['a/b/c/d/img', 'namespace', 0, 'namespace/a/b/c/d/img'],
  // 1..n: that many leading components replaced
  ['a/b/c', 'n', 1, 'n/b/c'],
  ['a/b/c/d/img', 'namespace', 1, 'namespace/b/c/d/img'],
  ['a/b/c', 'n', 2, 'n/c'],
  ['a/b/c/d/img', 'namespace', 2, 'namespace/c/d/img'],
  ['a/b/c/d/img', 'namespace', 3, 'namespace/d/img'],
  ['library/hello-world', 'mirror', 1, 'mirror/hello-world'],
  // as many as the name has: the namespace itself
  ['a/b/c', 'n', 3, 'n'],
  ['a', 'n', 1, 'n'],
  ['a/b', 'x/y', 2, 'x/y'],
  // a multi-component namespace
  ['a/b/c', 'x/y', 1, 'x/y/b/c'],
  ['a/b/c', 'x/y', -1, 'x/y/c'],
  // more than it has: refused
  ['a/b', 'n', 3, null],
  ['a', 'n', 2, null],
];

describe('destinationRepository', () => {
  it.each(CASES)('%s into %j with count %i is %s', (repository, namespace, count, expected) => {
    const result = destinationRepository(repository, namespace, count);
    if (expected === null) {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/has only \d+ path components/);
    } else {
      expect(result).toEqual({ ok: true, name: expected });
    }
  });
});
