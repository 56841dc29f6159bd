import { compileDoublestar, doublestarProblem } from './doublestar.js';

// Tag retention rules (Harbor's src/pkg/retention) as pure code: which artifacts of one repository
// a policy keeps. Harbor's semantics, kept:
// - a candidate is an artifact (a top-level manifest) with its tags, labels, push and pull times;
// - a rule applies to the repositories its scope selectors (repoMatches / repoExcludes, doublestar,
//   on the name without the project) select; within one, its tag selectors (matches / excludes on
//   any tag, with the `untagged` extra) and label selectors (withLabels / withoutLabels) pick the
//   candidates the rule's template then ranks: latestPushedK, latestPulledN, nDaysSinceLastPush,
//   nDaysSinceLastPull, always;
// - algorithm "or": a candidate is RETAINED when any enabled rule retains it; every other candidate
//   of a repository some rule applies to is removed. Repositories no rule applies to are untouched.
// Patterns are Harbor's doublestar (doublestar.ts, the matcher of immutability rules too).

export const RETENTION_TEMPLATES = [
  'latestPushedK',
  'latestPulledN',
  'nDaysSinceLastPush',
  'nDaysSinceLastPull',
  'always',
] as const;
export type RetentionTemplate = (typeof RETENTION_TEMPLATES)[number];

export interface RetentionSelector {
  kind: string;
  decoration: string;
  pattern: string;
  extras?: string;
}

export interface RetentionRule {
  id: number;
  priority: number;
  disabled: boolean;
  action: string;
  template: string;
  params: Record<string, unknown>;
  tag_selectors: RetentionSelector[];
  scope_selectors: Record<string, RetentionSelector[]>;
}

/** One artifact of a repository as a rule sees it; times in milliseconds, 0 for never. */
export interface RetentionCandidate {
  digest: string;
  tags: readonly string[];
  labels: readonly string[];
  pushedAt: number;
  pulledAt: number;
}

/** Harbor's limits: at most 15 rules; K/N below 2^15; days up to Harbor's odd bound. */
export const MAX_RULES = 15;
const MAX_COUNT = 32_766;
const MAX_DAYS = 20_190_904;
const DAY_MS = 86_400_000;

const COUNT_TEMPLATES = new Set(['latestPushedK', 'latestPulledN']);

export class RetentionRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetentionRuleError';
  }
}

function isTemplate(value: string): value is RetentionTemplate {
  return (RETENTION_TEMPLATES as readonly string[]).includes(value);
}

/** A template's parameter as an integer (JSON number or numeric string), or undefined. */
function intParam(params: Record<string, unknown>, name: string): number | undefined {
  const v = params[name];
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,10}$/.test(v)) return Number(v);
  return undefined;
}

function checkSelector(where: string, s: RetentionSelector, kinds: Record<string, readonly string[]>): void {
  const decorations = kinds[s.kind];
  if (!decorations)
    throw new RetentionRuleError(`${where}: kind must be one of ${Object.keys(kinds).join(', ')}`);
  if (!decorations.includes(s.decoration)) {
    throw new RetentionRuleError(`${where}: decoration must be one of ${decorations.join(', ')}`);
  }
  if (s.kind === 'doublestar') {
    const problem = doublestarProblem(s.pattern);
    if (problem) throw new RetentionRuleError(`${where}: ${problem}`);
  }
}

const TAG_SELECTOR_KINDS = { doublestar: ['matches', 'excludes'], label: ['withLabels', 'withoutLabels'] };
const SCOPE_SELECTOR_KINDS = { doublestar: ['repoMatches', 'repoExcludes'] };

/** Checks one rule as Harbor's validation does; throws RetentionRuleError naming what is wrong. */
export function checkRule(rule: RetentionRule, index: number): void {
  const where = `rules[${index}]`;
  if (rule.action !== 'retain') throw new RetentionRuleError(`${where}.action must be "retain"`);
  if (!isTemplate(rule.template)) {
    throw new RetentionRuleError(`${where}.template must be one of ${RETENTION_TEMPLATES.join(', ')}`);
  }
  if (rule.template !== 'always') {
    const n = intParam(rule.params, rule.template);
    if (n === undefined) {
      throw new RetentionRuleError(`${where}.params.${rule.template} is required and must be an integer`);
    }
    const max = COUNT_TEMPLATES.has(rule.template) ? MAX_COUNT : MAX_DAYS;
    if (n < 0 || n > max)
      throw new RetentionRuleError(`${where}.params.${rule.template} must be 0 to ${max}`);
  }
  rule.tag_selectors.forEach((s, i) => checkSelector(`${where}.tag_selectors[${i}]`, s, TAG_SELECTOR_KINDS));
  for (const [key, list] of Object.entries(rule.scope_selectors)) {
    if (key !== 'repository')
      throw new RetentionRuleError(`${where}.scope_selectors: only "repository" is known`);
    list.forEach((s, i) =>
      checkSelector(`${where}.scope_selectors.repository[${i}]`, s, SCOPE_SELECTOR_KINDS),
    );
  }
}

/**
 * Checks a policy's rules: each one, their count, and that no two are the same rule (Harbor's
 * conflict check, which ignores ids). Returns the index pair of a duplicate, else null.
 */
export function checkRules(rules: readonly RetentionRule[]): { duplicate: [number, number] } | null {
  if (rules.length > MAX_RULES) throw new RetentionRuleError(`only ${MAX_RULES} rules are allowed at most`);
  rules.forEach((r, i) => checkRule(r, i));
  const seen = new Map<string, number>();
  for (const [i, r] of rules.entries()) {
    const key = JSON.stringify({ ...r, id: 0 });
    const first = seen.get(key);
    if (first !== undefined) return { duplicate: [i, first] };
    seen.set(key, i);
  }
  return null;
}

function patternOf(s: RetentionSelector): (value: string) => boolean {
  const compiled = compileDoublestar(s.pattern);
  return (value) => compiled.matches(value);
}

/** Whether a rule's scope selectors (all of them) select a repository (its name without the project). */
export function ruleAppliesTo(rule: RetentionRule, repository: string): boolean {
  if (rule.disabled) return false;
  return (rule.scope_selectors.repository ?? []).every((s) => {
    const matched = patternOf(s)(repository);
    return s.decoration === 'repoExcludes' ? !matched : matched;
  });
}

/** Harbor's `untagged` extra: `{"untagged":true}`; absent, matches keep untagged and excludes do not. */
function untaggedOption(s: RetentionSelector): boolean {
  if (s.extras) {
    try {
      const parsed: unknown = JSON.parse(s.extras);
      if (parsed && typeof parsed === 'object' && 'untagged' in parsed) return parsed.untagged === true;
    } catch {
      // Unreadable extras fall back to the default, as Harbor's.
    }
  }
  return s.decoration === 'matches';
}

function selects(s: RetentionSelector, c: RetentionCandidate): boolean {
  if (s.kind === 'label') {
    const wanted = s.pattern.split(',').filter((l) => l !== '');
    const has = new Set(c.labels);
    return s.decoration === 'withLabels' ? wanted.every((l) => has.has(l)) : !wanted.some((l) => has.has(l));
  }
  if (c.tags.length === 0) return untaggedOption(s);
  const match = patternOf(s);
  return s.decoration === 'excludes' ? c.tags.some((t) => !match(t)) : c.tags.some((t) => match(t));
}

/** What one rule retains among the candidates its tag selectors select. */
function evaluate(rule: RetentionRule, candidates: RetentionCandidate[], now: number): RetentionCandidate[] {
  const n = intParam(rule.params, rule.template) ?? 0;
  switch (rule.template) {
    case 'latestPushedK':
      return [...candidates].sort((a, b) => b.pushedAt - a.pushedAt).slice(0, n);
    case 'latestPulledN':
      return [...candidates].sort((a, b) => b.pulledAt - a.pulledAt).slice(0, n);
    case 'nDaysSinceLastPush':
      return candidates.filter((c) => c.pushedAt >= now - n * DAY_MS);
    case 'nDaysSinceLastPull':
      return candidates.filter((c) => c.pulledAt > 0 && c.pulledAt >= now - n * DAY_MS);
    default:
      return candidates;
  }
}

/** The digests that the given rules (those that apply to the repository) retain. */
export function retainedDigests(
  rules: readonly RetentionRule[],
  candidates: readonly RetentionCandidate[],
  now: number,
): Set<string> {
  const retained = new Set<string>();
  for (const rule of rules) {
    const selected = candidates.filter((c) => rule.tag_selectors.every((s) => selects(s, c)));
    for (const c of evaluate(rule, selected, now)) retained.add(c.digest);
  }
  return retained;
}
