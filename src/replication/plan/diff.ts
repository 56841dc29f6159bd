import { compareCodeUnits } from '../../domain/tag-versions.js';

// Reconciliation: from what the source has (tag → digest per repository, after the policy's
// filters) and what the destination has (under the mapped names), the least work that makes the
// destination agree. Pure: the caller lists both sides and runs the work.
//
// - copy: the tag is missing at the destination, or points at another digest and `override` is on;
// - skipped: it points at another digest and `override` is off (Harbor leaves it alone);
// - delete: only with `replicate_deletion`, for a tag the destination has and no source has, and
//   never for a tag the caller marks as foreign (written there by someone else);
// - unchanged: same digest on both sides;
// - conflicts: flattening can map two source repositories onto one destination (a/x and b/x both
//   to n/x); a tag they both have with different digests has no right answer, so it is neither
//   copied nor deleted but reported. With the same digest it is copied once, from the first source.
// Every list is sorted by destination repository, then tag (code-unit order), so the same input
// always gives the same plan.

export type TagMap = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

export interface RepositoryPair {
  /** The repository's name at the source. */
  source: string;
  /** Its name at the destination (naming.ts). */
  destination: string;
  sourceTags: TagMap;
  destinationTags: TagMap;
}

export interface DiffOptions {
  override: boolean;
  replicateDeletion: boolean;
  /** Tags at the destination that this policy did not write and must never delete. */
  isForeign?: (destinationRepository: string, tag: string) => boolean;
}

export interface TagAt {
  destination: string;
  tag: string;
  digest: string;
}

export interface CopyWork extends TagAt {
  source: string;
  /** The digest the destination's tag points at now, or null when the tag is new there. */
  replaces: string | null;
}

export interface SkippedWork extends TagAt {
  source: string;
  /** The source's digest, which the destination keeps not having. */
  sourceDigest: string;
  reason: 'override-disabled';
}

export interface Conflict {
  destination: string;
  tag: string;
  sources: Array<{ source: string; digest: string }>;
}

export interface ReconciliationPlan {
  copy: CopyWork[];
  delete: TagAt[];
  unchanged: TagAt[];
  skipped: SkippedWork[];
  /** Tags only the destination has that were kept because they are foreign. */
  keptForeign: TagAt[];
  conflicts: Conflict[];
}

export { compareCodeUnits };

function entries(map: TagMap): Array<[string, string]> {
  return map instanceof Map ? [...map.entries()] : Object.entries(map);
}

export function planReconciliation(
  pairs: readonly RepositoryPair[],
  options: DiffOptions,
): ReconciliationPlan {
  const plan: ReconciliationPlan = {
    copy: [],
    delete: [],
    unchanged: [],
    skipped: [],
    keptForeign: [],
    conflicts: [],
  };
  // Group by destination: several sources may map onto one destination repository.
  const byDestination = new Map<string, RepositoryPair[]>();
  for (const pair of pairs) {
    const group = byDestination.get(pair.destination);
    if (group) group.push(pair);
    else byDestination.set(pair.destination, [pair]);
  }
  for (const destination of [...byDestination.keys()].sort(compareCodeUnits)) {
    const group = (byDestination.get(destination) ?? []).sort((a, b) => compareCodeUnits(a.source, b.source));
    // tag → the sources that have it, in source order
    const wanted = new Map<string, Array<{ source: string; digest: string }>>();
    for (const pair of group) {
      for (const [tag, digest] of entries(pair.sourceTags)) {
        const list = wanted.get(tag);
        if (list) list.push({ source: pair.source, digest });
        else wanted.set(tag, [{ source: pair.source, digest }]);
      }
    }
    // The destination's tags: the same repository listed by every pair of the group.
    const present = new Map<string, string>();
    for (const pair of group)
      for (const [tag, digest] of entries(pair.destinationTags)) present.set(tag, digest);

    const tags = [...new Set([...wanted.keys(), ...present.keys()])].sort(compareCodeUnits);
    for (const tag of tags) {
      const sources = wanted.get(tag);
      const current = present.get(tag);
      if (!sources) {
        if (current === undefined) continue;
        if (!options.replicateDeletion) continue;
        const at = { destination, tag, digest: current };
        if (options.isForeign?.(destination, tag)) plan.keptForeign.push(at);
        else plan.delete.push(at);
        continue;
      }
      const digests = new Set(sources.map((s) => s.digest));
      if (digests.size > 1) {
        plan.conflicts.push({ destination, tag, sources });
        continue;
      }
      const first = sources[0] as { source: string; digest: string };
      if (current === first.digest) {
        plan.unchanged.push({ destination, tag, digest: current });
      } else if (current === undefined) {
        plan.copy.push({ destination, tag, digest: first.digest, source: first.source, replaces: null });
      } else if (options.override) {
        plan.copy.push({ destination, tag, digest: first.digest, source: first.source, replaces: current });
      } else {
        plan.skipped.push({
          destination,
          tag,
          digest: current,
          source: first.source,
          sourceDigest: first.digest,
          reason: 'override-disabled',
        });
      }
    }
  }
  return plan;
}
