import { describe, expect, it } from 'vitest';
import { isRepositoryName, isTag, MAX_REPOSITORY_NAME_LENGTH } from './reference.js';

describe('isRepositoryName', () => {
  it('accepts the grammar of the distribution spec', () => {
    for (const name of [
      'a',
      'library/ubuntu',
      'a/b/c/d/e',
      'a.b',
      'a_b',
      'a__b',
      'a-b',
      'a---b',
      'a1/2b/3',
      'my-project/sub.component/x_y__z',
    ]) {
      expect(isRepositoryName(name), name).toBe(true);
    }
  });

  it('refuses anything else, path traversal included', () => {
    for (const name of [
      '',
      'A',
      'Library/ubuntu',
      '-a',
      'a-',
      '_a',
      'a_',
      '.a',
      'a.',
      'a..b',
      'a___b',
      'a._b',
      '/a',
      'a/',
      'a//b',
      '.',
      '..',
      'a/../b',
      'a/./b',
      '../a',
      'a/..',
      'a\\b',
      'a b',
      'a%2fb',
      'a\u0000b',
      'a:b',
      'ä',
    ]) {
      expect(isRepositoryName(name), JSON.stringify(name)).toBe(false);
    }
  });

  it('allows at most 255 characters', () => {
    expect(MAX_REPOSITORY_NAME_LENGTH).toBe(255);
    expect(isRepositoryName('a'.repeat(255))).toBe(true);
    expect(isRepositoryName('a'.repeat(256))).toBe(false);
    expect(isRepositoryName(`${'ab/'.repeat(84)}abc`)).toBe(true);
    expect(isRepositoryName(`${'ab/'.repeat(84)}abcd`)).toBe(false);
  });
});

describe('isTag', () => {
  it('accepts [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}', () => {
    for (const tag of ['latest', 'v1.2.3', 'V1', '_x', '0', 'a-b_c.d', 'sha256-abc', 'x'.repeat(128)]) {
      expect(isTag(tag), tag).toBe(true);
    }
  });

  it('refuses everything else', () => {
    for (const tag of ['', '-a', '.a', 'x'.repeat(129), 'a:b', 'a/b', 'a b', '..', 'a@b', 'ä', 'a\n']) {
      expect(isTag(tag), JSON.stringify(tag)).toBe(false);
    }
  });
});
