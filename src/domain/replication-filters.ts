import { compilePattern, PatternError, type Matcher } from './name-pattern.js';

// The filters of a replication policy (Harbor's ReplicationFilter) as predicates over what a
// replication run sees: repository names, tags, and each artifact's facts (type, labels).
//
// Harbor's semantics, kept:
// - every filter applies (they are ANDed, several of one type included);
// - name: the repository name matches the pattern; tag: the tag matches (`matches`, the default)
//   or does not (`excludes`); a tagged artifact keeps only its passing tags and is dropped when none
//   pass; an untagged artifact meets a tag filter as the tag "";
// - label: the artifact carries every listed label (`matches`) or not all of them (`excludes`);
// - resource: `image` keeps images, `artifact` keeps everything; `chart` keeps Helm charts;
// - an empty pattern or an empty label list filters nothing.
// Wharf extension: `excludes` on a name filter (Harbor refuses any decoration there), so a policy
// can leave some repositories out. Resource filters take no decoration, as in Harbor.

export const FILTER_TYPES = ['name', 'tag', 'label', 'resource'] as const;
export type FilterType = (typeof FILTER_TYPES)[number];
export const DECORATIONS = ['matches', 'excludes'] as const;
export type Decoration = (typeof DECORATIONS)[number];
export const RESOURCE_FILTER_VALUES = ['image', 'artifact', 'chart'] as const;
export type ResourceFilterValue = (typeof RESOURCE_FILTER_VALUES)[number];

export type PolicyFilter =
  | { type: 'name' | 'tag'; value: string; decoration?: Decoration }
  | { type: 'label'; value: string[]; decoration?: Decoration }
  | { type: 'resource'; value: ResourceFilterValue };

/** What a run knows of one artifact. `type` is Harbor's artifact type, compared case-insensitively. */
export interface ArtifactFacts {
  type: string;
  labels: readonly string[];
}

export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

const MAX_LABELS = 100;

/**
 * Checks what a filter's type cannot say: its pattern compiles, its label list is not too long.
 * Throws FilterError saying what is wrong (the API checked the shape already).
 */
export function checkFilter(filter: PolicyFilter): void {
  switch (filter.type) {
    case 'name':
    case 'tag':
      try {
        compilePattern(filter.value);
      } catch (err) {
        if (err instanceof PatternError) throw new FilterError(`${filter.type} filter: ${err.message}`);
        throw err;
      }
      return;
    case 'label':
      if (filter.value.length > MAX_LABELS)
        throw new FilterError(`a label filter lists at most ${MAX_LABELS} labels`);
      return;
    case 'resource':
      return;
  }
}

export interface CompiledFilters {
  /** Whether a repository (by its source name) is replicated at all. */
  repository(name: string): boolean;
  /** Whether one tag passes every tag filter ("" stands for an untagged artifact). */
  tag(tag: string): boolean;
  /** The tags of one artifact that are replicated, in their given order. */
  tags(tags: readonly string[]): string[];
  /** Whether an artifact passes the label and resource filters. */
  artifact(facts: ArtifactFacts): boolean;
  /** Whether any label or resource filter applies (else artifact facts need not be read). */
  readonly judgesArtifacts: boolean;
}

/** Compiles validated filters into predicates (patterns are compiled once). */
export function compileFilters(filters: readonly PolicyFilter[]): CompiledFilters {
  const names: Matcher[] = [];
  const tags: Matcher[] = [];
  const artifacts: Array<(facts: ArtifactFacts) => boolean> = [];
  for (const f of filters) {
    switch (f.type) {
      // An empty pattern filters nothing, `excludes` or not (Harbor skips such a filter).
      case 'name':
        if (f.value !== '') names.push(decorate(compilePattern(f.value), f.decoration));
        break;
      case 'tag':
        if (f.value !== '') tags.push(decorate(compilePattern(f.value), f.decoration));
        break;
      case 'label': {
        if (f.value.length === 0) break;
        const wanted = f.value;
        const excludes = f.decoration === 'excludes';
        artifacts.push((facts) => {
          const has = new Set(facts.labels);
          return wanted.every((l) => has.has(l)) !== excludes;
        });
        break;
      }
      case 'resource': {
        if (f.value === 'artifact') break;
        const wanted = f.value;
        artifacts.push((facts) => facts.type.toLowerCase() === wanted);
        break;
      }
    }
  }
  const tag = (t: string) => tags.every((m) => m(t));
  return {
    repository: (name) => names.every((m) => m(name)),
    tag,
    tags: (list) => list.filter(tag),
    artifact: (facts) => artifacts.every((p) => p(facts)),
    judgesArtifacts: artifacts.length > 0,
  };
}

function decorate(matcher: Matcher, decoration: Decoration | undefined): Matcher {
  return decoration === 'excludes' ? (s) => !matcher(s) : matcher;
}
