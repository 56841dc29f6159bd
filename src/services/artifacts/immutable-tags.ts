import { ImmutableTagError } from '../../domain/errors.js';
import { immutableTagsAmong, type ImmutabilityRule } from '../../domain/tag-selectors.js';
import { tagNamesOf } from '../../metadata/artifact-deletion-queries.js';
import type { Queryable } from '../../metadata/database.js';
import {
  currentTagDigests,
  enabledRulesOfRepository,
  lockProtectedTags,
  type ImmutableRuleRow,
} from '../../metadata/immutable-rules-table.js';

// Tag immutability as the artifact core applies it, inside the write's own transaction: which of
// some tags a project's rules protect, and the refusals (ImmutableTagError) of a push that would
// move a protected tag and of a removal that would take one away. Whoever writes (a /v2 client,
// the API, retention, replication) passes here, because the core is the only writer.

export function immutabilityRuleOf(row: ImmutableRuleRow): ImmutabilityRule {
  return {
    disabled: row.disabled,
    tagSelectors: row.tag_selectors,
    repositorySelectors: row.scope_selectors.repository ?? [],
  };
}

/** The tags among `tags` of the repository (full name) that an enabled rule protects. */
export async function immutableTagsOf(
  db: Queryable,
  repositoryFullName: string,
  tags: readonly string[],
): Promise<Set<string>> {
  if (tags.length === 0) return new Set();
  const rules = await enabledRulesOfRepository(db, repositoryFullName);
  if (rules.length === 0) return new Set();
  return immutableTagsAmong(rules.map(immutabilityRuleOf), repositoryFullName, tags);
}

/**
 * Refuses a push that would move a protected tag to another manifest. A protected tag that does
 * not exist yet may be created (immutability guards what a tag holds, as in Harbor), and pushing
 * the digest it holds already changes nothing, so it is allowed (a retried push, a replication
 * run again). The protected tags stay locked until the push commits, so a concurrent push of the
 * same tag sees this one's result.
 */
export async function refuseImmutableOverwrite(
  tx: Queryable,
  repository: { id: number; name: string },
  tags: readonly string[],
  digest: string,
): Promise<void> {
  const protectedTags = await immutableTagsOf(tx, repository.name, tags);
  if (protectedTags.size === 0) return;
  await lockProtectedTags(tx, repository.name, [...protectedTags]);
  const current = await currentTagDigests(tx, repository.id, [...protectedTags]);
  for (const tag of [...protectedTags].sort()) {
    const held = current.get(tag);
    if (held !== undefined && held !== digest)
      throw new ImmutableTagError(repository.name, tag, 'overwritten');
  }
}

/** Refuses a removal (tag, artifact or repository delete) that would take a protected tag away. */
export async function refuseImmutableRemoval(
  tx: Queryable,
  repositoryFullName: string,
  tags: readonly string[],
): Promise<void> {
  const protectedTags = await immutableTagsOf(tx, repositoryFullName, tags);
  const first = [...protectedTags].sort()[0];
  if (first !== undefined) throw new ImmutableTagError(repositoryFullName, first, 'deleted');
}

/** Refuses an artifact deletion whose cascade would take a protected tag away (Harbor: 412). */
export async function refuseImmutableInCascade(
  tx: Queryable,
  repositoryFullName: string,
  cascade: ReadonlyArray<{ id: number | string }>,
): Promise<void> {
  const tags = await tagNamesOf(
    tx,
    cascade.map((m) => Number(m.id)),
  );
  await refuseImmutableRemoval(tx, repositoryFullName, [...tags.values()].flat());
}
