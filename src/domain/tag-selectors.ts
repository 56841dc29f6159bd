import { compileDoublestar, doublestarProblem, type CompiledPattern } from './doublestar.js';

// Harbor's selectors of repositories and tags (immutability rules, retention rules): a kind
// ("doublestar"), a decoration (matches / excludes for tags, repoMatches / repoExcludes for
// repositories) and a pattern. A repository selector sees the repository's name WITHOUT its
// project ('app/web' in project 'library' for 'library/app/web'), as Harbor's do.
// Several selectors of one kind must all select (Harbor's portal sends one of each).

export const SELECTOR_KIND = 'doublestar';
export const TAG_DECORATIONS = ['matches', 'excludes'] as const;
export const REPOSITORY_DECORATIONS = ['repoMatches', 'repoExcludes'] as const;

export type TagDecoration = (typeof TAG_DECORATIONS)[number];
export type RepositoryDecoration = (typeof REPOSITORY_DECORATIONS)[number];

export interface Selector<D extends string = string> {
  kind: string;
  decoration: D;
  pattern: string;
  /** Harbor's free-form extras (retention's {"untagged": ...}); kept, not interpreted here. */
  extras?: string;
}

/** A pattern longer than this is refused: names are at most 255 characters. */
export const MAX_PATTERN_LENGTH = 512;

/** The repository's name as selectors see it: without the project (its first component). */
export function repositoryWithinProject(fullName: string): string {
  const slash = fullName.indexOf('/');
  return slash < 0 ? fullName : fullName.slice(slash + 1);
}

/** The reasons a selector is refused (empty when valid), each naming `where` it is. */
export function selectorProblems(
  selector: Selector,
  decorations: readonly string[],
  where: string,
): string[] {
  const problems: string[] = [];
  if (selector.kind !== SELECTOR_KIND) {
    problems.push(`${where}.kind must be "${SELECTOR_KIND}", not ${JSON.stringify(selector.kind)}`);
  }
  if (!decorations.includes(selector.decoration)) {
    problems.push(
      `${where}.decoration must be one of ${decorations.join(', ')}, not ${JSON.stringify(selector.decoration)}`,
    );
  }
  if (selector.pattern === '') problems.push(`${where}.pattern must not be empty`);
  else if (selector.pattern.length > MAX_PATTERN_LENGTH) {
    problems.push(`${where}.pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  } else {
    const problem = doublestarProblem(selector.pattern);
    if (problem) problems.push(`${where}.pattern: ${problem}`);
  }
  return problems;
}

/** Selectors compiled once, to be matched against many names. */
export interface SelectorMatcher {
  /** True when every selector selects the value (and there is at least one selector). */
  selects(value: string): boolean;
}

function compileAll(
  selectors: readonly Selector[],
  excluding: string,
): Array<{ pattern: CompiledPattern; exclude: boolean }> {
  return selectors.map((s) => ({
    pattern: compileDoublestar(s.pattern),
    exclude: s.decoration === excluding,
  }));
}

/**
 * A matcher of tag selectors: `matches` selects the tags the pattern matches, `excludes` those
 * it does not. No selectors select nothing (a rule without one protects nothing, as in Harbor).
 */
export function tagMatcher(selectors: readonly Selector[]): SelectorMatcher {
  const compiled = compileAll(selectors, 'excludes');
  return {
    selects: (tag) => compiled.length > 0 && compiled.every((c) => c.pattern.matches(tag) !== c.exclude),
  };
}

/** A matcher of repository selectors, given the repository's name within its project. */
export function repositoryMatcher(selectors: readonly Selector[]): SelectorMatcher {
  const compiled = compileAll(selectors, 'repoExcludes');
  return {
    selects: (name) => compiled.length > 0 && compiled.every((c) => c.pattern.matches(name) !== c.exclude),
  };
}

/** One-off: do the tag selectors select this tag? */
export function tagSelected(selectors: readonly Selector[], tag: string): boolean {
  return tagMatcher(selectors).selects(tag);
}

/** One-off: do the repository selectors select this repository (full name, with its project)? */
export function repositorySelected(selectors: readonly Selector[], fullName: string): boolean {
  return repositoryMatcher(selectors).selects(repositoryWithinProject(fullName));
}

/** An immutability rule as the matcher needs it. */
export interface ImmutabilityRule {
  disabled: boolean;
  tagSelectors: readonly Selector[];
  repositorySelectors: readonly Selector[];
}

/**
 * The tags of one repository (full name) that the project's rules make immutable: a tag is
 * immutable when any enabled rule selects both the repository and the tag (rules are OR-ed).
 */
export function immutableTagsAmong(
  rules: readonly ImmutabilityRule[],
  repositoryFullName: string,
  tags: readonly string[],
): Set<string> {
  const out = new Set<string>();
  if (tags.length === 0) return out;
  const name = repositoryWithinProject(repositoryFullName);
  for (const rule of rules) {
    if (rule.disabled || !repositoryMatcher(rule.repositorySelectors).selects(name)) continue;
    const tagsOfRule = tagMatcher(rule.tagSelectors);
    for (const tag of tags) if (tagsOfRule.selects(tag)) out.add(tag);
  }
  return out;
}
