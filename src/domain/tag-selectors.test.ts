import { describe, expect, it } from 'vitest';
import {
  immutableTagsAmong,
  repositorySelected,
  repositoryWithinProject,
  selectorProblems,
  tagSelected,
  type ImmutabilityRule,
} from './tag-selectors.js';

const tagSel = (decoration: string, pattern: string) => ({ kind: 'doublestar', decoration, pattern });

describe('tag and repository selectors', () => {
  it('sees a repository without its project', () => {
    expect(repositoryWithinProject('library/app/web')).toBe('app/web');
    expect(repositorySelected([tagSel('repoMatches', 'app/*')], 'library/app/web')).toBe(true);
    expect(repositorySelected([tagSel('repoMatches', 'library/**')], 'library/app')).toBe(false);
    expect(repositorySelected([tagSel('repoExcludes', 'app/*')], 'library/app/web')).toBe(false);
    expect(repositorySelected([tagSel('repoExcludes', 'db')], 'library/app')).toBe(true);
  });

  it('selects tags by matches and excludes; several selectors must all select', () => {
    expect(tagSelected([tagSel('matches', 'v*')], 'v1')).toBe(true);
    expect(tagSelected([tagSel('excludes', 'v*')], 'v1')).toBe(false);
    expect(tagSelected([tagSel('excludes', 'v*')], 'latest')).toBe(true);
    expect(tagSelected([tagSel('matches', 'v*'), tagSel('excludes', '*-rc')], 'v1-rc')).toBe(false);
    expect(tagSelected([], 'v1')).toBe(false);
  });

  it('makes a tag immutable when any enabled rule selects repository and tag', () => {
    const rules: ImmutabilityRule[] = [
      {
        disabled: false,
        repositorySelectors: [tagSel('repoMatches', '**')],
        tagSelectors: [tagSel('matches', 'v*')],
      },
      {
        disabled: true,
        repositorySelectors: [tagSel('repoMatches', '**')],
        tagSelectors: [tagSel('matches', '**')],
      },
      {
        disabled: false,
        repositorySelectors: [tagSel('repoMatches', 'db')],
        tagSelectors: [tagSel('matches', 'latest')],
      },
    ];
    expect([...immutableTagsAmong(rules, 'p/app', ['v1', 'latest', 'dev'])]).toEqual(['v1']);
    expect([...immutableTagsAmong(rules, 'p/db', ['v1', 'latest', 'dev'])].sort()).toEqual(['latest', 'v1']);
  });

  it('explains invalid selectors', () => {
    expect(selectorProblems(tagSel('matches', 'v*'), ['matches', 'excludes'], 'tag_selectors[0]')).toEqual(
      [],
    );
    expect(
      selectorProblems({ kind: 'regex', decoration: 'matches', pattern: 'x' }, ['matches'], 's'),
    ).toEqual(['s.kind must be "doublestar", not "regex"']);
    expect(selectorProblems(tagSel('repoMatches', ''), ['matches', 'excludes'], 's')).toEqual([
      's.decoration must be one of matches, excludes, not "repoMatches"',
      's.pattern must not be empty',
    ]);
    expect(selectorProblems(tagSel('matches', '[a'), ['matches'], 's')[0]).toMatch(
      /^s\.pattern: pattern "\[a" is invalid/,
    );
  });
});
