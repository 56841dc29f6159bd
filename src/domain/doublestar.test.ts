import { describe, expect, it } from 'vitest';
import { doublestarMatch, doublestarProblem } from './doublestar.js';

describe('doublestar patterns (Harbor selectors)', () => {
  it.each([
    ['**', 'v1.0', true],
    ['**', 'a/b/c', true],
    ['*', 'a/b', false],
    ['*', 'latest', true],
    ['v*', 'v1.2.3', true],
    ['v*', 'latest', false],
    ['v?.0', 'v1.0', true],
    ['v?.0', 'v10.0', false],
    ['{latest,stable}', 'stable', true],
    ['{latest,stable}', 'edge', false],
    ['release-{1,2}.*', 'release-2.9', true],
    ['release-{1,2}.*', 'release-3.0', false],
    ['{v{1,2},rc}*', 'v2-x', true],
    ['{v{1,2},rc}*', 'v3-x', false],
    ['[0-9]*', '7.1', true],
    ['[0-9]*', 'x7', false],
    ['[!0-9]*', 'x7', true],
    ['[^0-9]*', '7x', false],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['app/**/web', 'app/web', true],
    ['app/**/web', 'app/x/y/web', true],
    ['app/**/web', 'app/xweb', false],
    ['app/*', 'app/web', true],
    ['app/*', 'app/web/x', false],
    ['app/**', 'app/web/x', true],
    ['**/web', 'web', true],
    ['**/web', 'a/b/web', true],
    ['a**b', 'axxb', true],
    ['a**b', 'ax/xb', false],
    ['', 'anything', true],
  ])('%s against %s: %s', (pattern, value, expected) => {
    expect(doublestarMatch(pattern, value)).toBe(expected);
  });

  it('names what is wrong with a bad pattern', () => {
    expect(doublestarProblem('v[0-9')).toMatch(/'\[' is not closed/);
    expect(doublestarProblem('{a,b')).toMatch(/'\{' is not closed/);
    expect(doublestarProblem('a\\')).toMatch(/lone/);
    expect(doublestarProblem('[z-a]')).toMatch(/reversed/);
    expect(doublestarProblem('{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}')).toMatch(/alternatives/);
    expect(doublestarProblem('v{1,2}.**')).toBeNull();
  });

  it('matches a pathological pattern against a long name without blowing up', () => {
    const pattern = `${'*a'.repeat(30)}b`;
    expect(doublestarMatch(pattern, 'a'.repeat(200))).toBe(false);
    const components = `${'**/'.repeat(20)}x`;
    expect(doublestarMatch(components, `${'a/'.repeat(100)}y`)).toBe(false);
  });
});
