import { describe, expect, it } from 'vitest';
import { checkPattern, compilePattern, MAX_ALTERNATIVES } from './name-pattern.js';

// The table is Harbor's documented examples, Harbor's own pattern tests and doublestar's match
// tests (the behaviour Harbor gets from its matcher), so a difference from Harbor shows up here.

const MATCHES: Array<[pattern: string, subject: string, expected: boolean]> = [
  // Harbor's documentation
  ['library/*', 'library/hello-world', true],
  ['library/*', 'library/my/hello-world', false],
  ['library/**', 'library/hello-world', true],
  ['library/**', 'library/my/hello-world', true],
  ['{library,goharbor}/**', 'library/hello-world', true],
  ['{library,goharbor}/**', 'goharbor/harbor-core', true],
  ['{library,goharbor}/**', 'google/hello-world', false],
  ['1.?', '1.0', true],
  ['1.?', '1.01', false],
  // Harbor's pattern tests
  ['', 'library', true],
  ['', '', true],
  ['*', 'library', true],
  ['*', 'library/hello-world', false],
  ['**', 'library/hello-world', true],
  ['{library,harbor}/**', 'harbor/hello-world', true],
  // doublestar's match tests
  ['abc', 'abc', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'ab/c', false],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false],
  ['ab[c]', 'abc', true],
  ['ab[b-d]', 'abc', true],
  ['ab[e-g]', 'abc', false],
  ['ab[^c]', 'abc', false],
  ['ab[^b-d]', 'abc', false],
  ['ab[^e-g]', 'abc', true],
  ['a\\*b', 'ab', false],
  ['a\\*b', 'a*b', true],
  ['a?b', 'a☺b', true],
  ['a[^a]b', 'a☺b', true],
  ['a???b', 'a☺b', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['[\\]a]', ']', true],
  ['[\\-]', '-', true],
  ['[x\\-]', 'x', true],
  ['[x\\-]', '-', true],
  ['[x\\-]', 'z', false],
  ['*x', 'xxx', true],
  ['a/**', 'a', false],
  ['a/**', 'a/b', true],
  ['a/**', 'a/b/c', true],
  ['**/c', 'c', true],
  ['**/c', 'b/c', true],
  ['**/c', 'a/b/c', true],
  ['**/c', 'a/b', false],
  ['**/c', 'abcd', false],
  ['**/c', 'a/abc', false],
  ['a/**/b', 'a/b', true],
  ['a/**/c', 'a/b/c', true],
  ['a/**/d', 'a/b/c/d', true],
  ['a/\\**', 'a/b/c', false],
  ['ab{c,d}', 'abc', true],
  ['ab{c,d,*}', 'abcde', true],
  ['abc**', 'abc', true],
  ['**abc', 'abc', true],
  ['**abc', 'x/abc', false],
  // where minimatch's own dialect would differ from doublestar's
  ['v{1..3}', 'v2', false],
  ['v{1..3}', 'v1..3', true],
  ['[!a]', '!', true],
  ['[!a]', 'b', false],
  ['[[:alpha:]]', 'a', false],
  ['[[:alpha:]]', 'a]', true],
  ['[[:alpha:]', ':', true],
  ['!a', '!a', true],
  ['!a', 'b', false],
  ['#a', '#a', true],
  ['@(a)', 'a', false],
  ['+(a)', '+(a)', true],
  ['a//b', 'a/b', false],
  ['.*', '.hidden', true],
  ['*', '.hidden', true],
  ['A', 'a', false],
  ['a}b', 'a}b', true],
  ['a,b', 'a,b', true],
  ['{a,{b,c}d}', 'cd', true],
  ['{a,{b,c}d}', 'c', false],
  ['x\\{a,b}', 'x{a,b}', true],
  ['[{]a', '{a', true],
  // the empty string (an untagged artifact against a tag filter)
  ['*', '', true],
  ['**', '', true],
  ['{,v*}', '', true],
  ['?', '', false],
  ['latest', '', false],
];

describe('compilePattern', () => {
  it.each(MATCHES)('%j against %j is %s', (pattern, subject, expected) => {
    expect(compilePattern(pattern)(subject)).toBe(expected);
  });
});

describe('checkPattern', () => {
  const BAD: Array<[pattern: string, reason: RegExp]> = [
    ['[', /unclosed character class/],
    ['[^', /unclosed character class/],
    ['[^bc', /unclosed character class/],
    ['a[', /unclosed character class/],
    ['[]a]', /needs a character/],
    ['[-]', /needs a character/],
    ['[x-]', /needs a character/],
    ['[-x]', /needs a character/],
    ['[a-b-c]', /needs a character/],
    ['[z-a]', /reversed/],
    ['\\', /escape character/],
    ['abc\\', /escape character/],
    ['ab{c,d}[', /unclosed character class/],
    ['{a,b', /unclosed alternatives/],
    ['lib/{a,{b,c}', /unclosed alternatives/],
    ['{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}', new RegExp(`more than ${MAX_ALTERNATIVES}`)],
    ['x'.repeat(1025), /longer than/],
  ];
  it.each(BAD)('refuses %j', (pattern, reason) => {
    expect(checkPattern(pattern)).toMatch(reason);
    expect(() => compilePattern(pattern)).toThrow(reason);
  });

  it.each(['', '**', 'library/**', '{a,b}/*', '[a-z]?', 'a}', 'v1.*', '[\\]]'])('accepts %j', (pattern) => {
    expect(checkPattern(pattern)).toBeNull();
  });
});
