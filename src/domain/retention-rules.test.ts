import { describe, expect, it } from 'vitest';
import {
  checkRules,
  RetentionRuleError,
  retainedDigests,
  ruleAppliesTo,
  type RetentionCandidate,
  type RetentionRule,
} from './retention-rules.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 31);

function rule(
  template: string,
  params: Record<string, unknown> = {},
  extra: Partial<RetentionRule> = {},
): RetentionRule {
  return {
    id: 1,
    priority: 1,
    disabled: false,
    action: 'retain',
    template,
    params,
    tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**' }],
    scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
    ...extra,
  };
}

function candidate(
  digest: string,
  tags: string[],
  pushedDaysAgo: number,
  pulledDaysAgo?: number,
  labels: string[] = [],
) {
  const c: RetentionCandidate = {
    digest,
    tags,
    labels,
    pushedAt: NOW - pushedDaysAgo * DAY,
    pulledAt: pulledDaysAgo === undefined ? 0 : NOW - pulledDaysAgo * DAY,
  };
  return c;
}

// a: pushed 1 day ago, never pulled; b: 5 days, pulled 2 days ago; c: 10 days, pulled 20 days ago; u: untagged.
const CANDIDATES = [
  candidate('a', ['v3'], 1),
  candidate('b', ['v2', 'stable'], 5, 2, ['keep']),
  candidate('c', ['dev-1'], 10, 20),
  candidate('u', [], 3),
];

const kept = (rules: RetentionRule[]) => [...retainedDigests(rules, CANDIDATES, NOW)].sort();

describe('retention templates', () => {
  it('latestPushedK keeps the K most recently pushed', () => {
    expect(kept([rule('latestPushedK', { latestPushedK: 2 })])).toEqual(['a', 'u']);
  });
  it('latestPulledN keeps the N most recently pulled', () => {
    expect(kept([rule('latestPulledN', { latestPulledN: 1 })])).toEqual(['b']);
  });
  it('nDaysSinceLastPush keeps those pushed within N days', () => {
    expect(kept([rule('nDaysSinceLastPush', { nDaysSinceLastPush: 6 })])).toEqual(['a', 'b', 'u']);
  });
  it('nDaysSinceLastPull keeps those pulled within N days, never those never pulled', () => {
    expect(kept([rule('nDaysSinceLastPull', { nDaysSinceLastPull: 7 })])).toEqual(['b']);
  });
  it('always keeps everything selected', () => {
    expect(kept([rule('always')])).toEqual(['a', 'b', 'c', 'u']);
  });
  it('rules are ORed: a candidate any rule retains is retained', () => {
    expect(
      kept([rule('latestPulledN', { latestPulledN: 1 }), rule('latestPushedK', { latestPushedK: 1 })]),
    ).toEqual(['a', 'b']);
  });
});

describe('selectors', () => {
  const withTags = (decoration: string, pattern: string, extras?: string) =>
    rule(
      'always',
      {},
      { tag_selectors: [{ kind: 'doublestar', decoration, pattern, ...(extras && { extras }) }] },
    );

  it('matches selects artifacts with any matching tag, and untagged ones by default', () => {
    expect(kept([withTags('matches', 'v*')])).toEqual(['a', 'b', 'u']);
    expect(kept([withTags('matches', 'v*', '{"untagged":false}')])).toEqual(['a', 'b']);
  });
  it('excludes selects artifacts with a tag outside the pattern, untagged ones only when asked', () => {
    expect(kept([withTags('excludes', 'v*')])).toEqual(['b', 'c']);
    expect(kept([withTags('excludes', 'v*', '{"untagged":true}')])).toEqual(['b', 'c', 'u']);
  });
  it('label selectors: withLabels needs every label, withoutLabels none of them', () => {
    const labelRule = (decoration: string) =>
      rule('always', {}, { tag_selectors: [{ kind: 'label', decoration, pattern: 'keep' }] });
    expect(kept([labelRule('withLabels')])).toEqual(['b']);
    expect(kept([labelRule('withoutLabels')])).toEqual(['a', 'c', 'u']);
  });
  it('repository selectors see the name within the project; disabled rules apply nowhere', () => {
    const scoped = (decoration: string) =>
      rule(
        'always',
        {},
        { scope_selectors: { repository: [{ kind: 'doublestar', decoration, pattern: 'app/**' }] } },
      );
    expect(ruleAppliesTo(scoped('repoMatches'), 'app/web')).toBe(true);
    expect(ruleAppliesTo(scoped('repoMatches'), 'db')).toBe(false);
    expect(ruleAppliesTo(scoped('repoExcludes'), 'db')).toBe(true);
    expect(ruleAppliesTo({ ...rule('always'), disabled: true }, 'db')).toBe(false);
  });
});

describe('checkRules', () => {
  it('refuses unknown templates, missing or negative parameters, bad selectors and patterns', () => {
    expect(() => checkRules([rule('latestActiveK', { latestActiveK: 1 })])).toThrow(RetentionRuleError);
    expect(() => checkRules([rule('latestPushedK')])).toThrow(/latestPushedK is required/);
    expect(() => checkRules([rule('latestPushedK', { latestPushedK: -1 })])).toThrow(/0 to/);
    expect(() =>
      checkRules([
        rule('always', {}, { tag_selectors: [{ kind: 'regexp', decoration: 'matches', pattern: '.*' }] }),
      ]),
    ).toThrow(/kind must be/);
    expect(() =>
      checkRules([
        rule('always', {}, { tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '[' }] }),
      ]),
    ).toThrow(/is invalid/);
    expect(() =>
      checkRules(Array.from({ length: 16 }, (_, i) => rule('latestPushedK', { latestPushedK: i }))),
    ).toThrow(/15 rules/);
  });
  it('finds two identical rules (ids aside), accepts numeric strings as parameters', () => {
    expect(checkRules([rule('always'), { ...rule('always'), id: 7 }])).toEqual({ duplicate: [1, 0] });
    expect(checkRules([rule('latestPushedK', { latestPushedK: '3' })])).toBeNull();
  });
});
