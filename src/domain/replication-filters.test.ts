import { describe, expect, it } from 'vitest';
import {
  compileFilters,
  FilterError,
  checkFilter,
  type ArtifactFacts,
  type PolicyFilter,
} from './replication-filters.js';

const image = (...labels: string[]): ArtifactFacts => ({ type: 'IMAGE', labels });
const chart = (...labels: string[]): ArtifactFacts => ({ type: 'CHART', labels });

describe('compileFilters: repositories', () => {
  const CASES: Array<[filters: PolicyFilter[], name: string, expected: boolean]> = [
    [[], 'any/thing', true],
    [[{ type: 'name', value: '' }], 'any/thing', true],
    [[{ type: 'name', value: '', decoration: 'excludes' }], 'any/thing', true],
    [[{ type: 'name', value: 'library/**' }], 'library/a/b', true],
    [[{ type: 'name', value: 'library/**' }], 'other/a', false],
    [[{ type: 'name', value: 'library/*', decoration: 'matches' }], 'library/a', true],
    [[{ type: 'name', value: 'library/*', decoration: 'excludes' }], 'library/a', false],
    [[{ type: 'name', value: 'library/*', decoration: 'excludes' }], 'other/a', true],
    // several filters: all apply
    [
      [
        { type: 'name', value: '{library,team}/**' },
        { type: 'name', value: '**/internal-*', decoration: 'excludes' },
      ],
      'team/internal-tool',
      false,
    ],
    [
      [
        { type: 'name', value: '{library,team}/**' },
        { type: 'name', value: '**/internal-*', decoration: 'excludes' },
      ],
      'team/app',
      true,
    ],
    // tag, label and resource filters say nothing about repositories
    [[{ type: 'tag', value: 'v1' }], 'library/a', true],
  ];
  it.each(CASES)('%j on %s is %s', (filters, name, expected) => {
    expect(compileFilters(filters).repository(name)).toBe(expected);
  });
});

describe('compileFilters: tags', () => {
  const CASES: Array<[filters: PolicyFilter[], tags: string[], expected: string[], untagged: boolean]> = [
    [[], ['v1', 'latest'], ['v1', 'latest'], true],
    [[{ type: 'tag', value: '' }], ['v1'], ['v1'], true],
    [[{ type: 'tag', value: '', decoration: 'excludes' }], ['v1'], ['v1'], true],
    [[{ type: 'tag', value: '1.?' }], ['1.0', '1.01', '1.x'], ['1.0', '1.x'], false],
    [[{ type: 'tag', value: 'v*' }], ['v1', 'latest', 'v2.0'], ['v1', 'v2.0'], false],
    [[{ type: 'tag', value: 'v*', decoration: 'excludes' }], ['v1', 'latest'], ['latest'], true],
    [[{ type: 'tag', value: '{latest,stable}' }], ['latest', 'stable', 'dev'], ['latest', 'stable'], false],
    // `*` matches "", so untagged artifacts pass a `*` tag filter, as in Harbor
    [[{ type: 'tag', value: '*' }], ['a'], ['a'], true],
    [[{ type: 'tag', value: '*', decoration: 'excludes' }], ['a'], [], false],
    // several tag filters: a tag passes all of them
    [
      [
        { type: 'tag', value: 'v*' },
        { type: 'tag', value: '*-rc*', decoration: 'excludes' },
      ],
      ['v1', 'v2-rc1', 'latest'],
      ['v1'],
      false,
    ],
    // signature tags (cosign's sha256-…) kept next to a release tag
    [
      [{ type: 'tag', value: '{v1,sha256-*}' }],
      ['v1', 'sha256-abc.sig', 'v2'],
      ['v1', 'sha256-abc.sig'],
      false,
    ],
  ];
  it.each(CASES)('%j keeps %j of %j', (filters, tags, expected, untagged) => {
    const compiled = compileFilters(filters);
    expect(compiled.tags(tags)).toEqual(expected);
    expect(compiled.tag('')).toBe(untagged);
  });
});

describe('compileFilters: artifacts', () => {
  const CASES: Array<[filters: PolicyFilter[], facts: ArtifactFacts, expected: boolean]> = [
    [[], image(), true],
    [[{ type: 'label', value: [] }], image(), true],
    [[{ type: 'label', value: ['prod'] }], image('prod', 'x'), true],
    [[{ type: 'label', value: ['prod'] }], image('x'), false],
    [[{ type: 'label', value: ['prod', 'signed'] }], image('prod'), false],
    [[{ type: 'label', value: ['prod', 'signed'] }], image('signed', 'prod'), true],
    [[{ type: 'label', value: ['prod'], decoration: 'excludes' }], image('prod'), false],
    [[{ type: 'label', value: ['prod'], decoration: 'excludes' }], image(), true],
    // excludes drops only artifacts that carry every listed label
    [[{ type: 'label', value: ['a', 'b'], decoration: 'excludes' }], image('a'), true],
    [[{ type: 'resource', value: 'artifact' }], chart(), true],
    [[{ type: 'resource', value: 'image' }], image(), true],
    [[{ type: 'resource', value: 'image' }], chart(), false],
    [[{ type: 'resource', value: 'image' }], { type: 'image', labels: [] }, true],
    [[{ type: 'resource', value: 'chart' }], chart(), true],
    [[{ type: 'resource', value: 'chart' }], image(), false],
    [
      [
        { type: 'resource', value: 'image' },
        { type: 'label', value: ['prod'] },
      ],
      image('prod'),
      true,
    ],
    [
      [
        { type: 'resource', value: 'image' },
        { type: 'label', value: ['prod'] },
      ],
      chart('prod'),
      false,
    ],
    // name and tag filters say nothing about an artifact's facts
    [[{ type: 'name', value: 'nothing' }], image(), true],
  ];
  it.each(CASES)('%j on %j is %s', (filters, facts, expected) => {
    expect(compileFilters(filters).artifact(facts)).toBe(expected);
  });

  it('says whether artifact facts matter at all (so a run need not read them)', () => {
    expect(
      compileFilters([
        { type: 'name', value: 'a/**' },
        { type: 'tag', value: 'v*' },
      ]).judgesArtifacts,
    ).toBe(false);
    expect(
      compileFilters([
        { type: 'label', value: [] },
        { type: 'resource', value: 'artifact' },
      ]).judgesArtifacts,
    ).toBe(false);
    expect(compileFilters([{ type: 'label', value: ['prod'] }]).judgesArtifacts).toBe(true);
    expect(compileFilters([{ type: 'resource', value: 'chart' }]).judgesArtifacts).toBe(true);
  });
});

describe('checkFilter', () => {
  it.each<PolicyFilter>([
    { type: 'name', value: 'library/**' },
    { type: 'name', value: '' },
    { type: 'tag', value: 'v*', decoration: 'excludes' },
    { type: 'label', value: ['a', 'b'], decoration: 'matches' },
    { type: 'resource', value: 'image' },
  ])('accepts %j', (filter) => {
    expect(() => checkFilter(filter)).not.toThrow();
  });

  it.each<[PolicyFilter, RegExp]>([
    [{ type: 'name', value: 'lib/[' }, /name filter: invalid pattern.*unclosed character class/],
    [{ type: 'tag', value: '{a,b' }, /tag filter: invalid pattern.*unclosed alternatives/],
    [{ type: 'label', value: Array.from({ length: 101 }, (_, i) => `l${i}`) }, /at most 100 labels/],
  ])('refuses %j', (filter, message) => {
    expect(() => checkFilter(filter)).toThrow(FilterError);
    expect(() => checkFilter(filter)).toThrow(message);
  });
});
