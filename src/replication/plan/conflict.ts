import { ABSENT, compareCodeUnits, compareStates, type TagState } from '../../domain/tag-versions.js';

export { ABSENT, compareStates, type TagState };

// Two-way (multi-master) replication: when the sides of a policy disagree on one tag, which
// state wins. The rule must give every side the same answer from the same facts whatever order it
// meets them in, so it is a maximum over a total order of tag versions:
//
//   1. the later time wins (a push's time, or a deletion's time for a tombstone);
//   2. at the same time, a deletion beats a push (a deleted tag must not come back to life);
//   3. two pushes at the same time: the larger digest (code-unit order) wins;
//   4. no record at all (absent) loses to everything.
//
// A tombstone is what a side keeps of a deleted tag: its deletion time. It beats any push older
// than the deletion, so reconciliation never copies a deleted tag back from a side that was
// partitioned away when the deletion happened. It expires after a TTL, and an expired tombstone
// counts as absent: a side that stayed away longer than the TTL can bring the tag back, the price
// of not keeping tombstones forever. Times are milliseconds since the epoch.

export interface TombstonePolicy {
  now: number;
  /** How long a tombstone beats older pushes. */
  ttlMs: number;
}

export function isExpired(state: TagState, tombstones: TombstonePolicy): boolean {
  return state.kind === 'deleted' && tombstones.now - state.deletedAt >= tombstones.ttlMs;
}

/** The state as the rule sees it: an expired tombstone is no record at all. */
export function effectiveState(state: TagState, tombstones: TombstonePolicy): TagState {
  return isExpired(state, tombstones) ? ABSENT : state;
}

/** The winning state among the sides' states (expired tombstones counting as absent). */
export function resolveTag(states: readonly TagState[], tombstones: TombstonePolicy): TagState {
  let best: TagState = ABSENT;
  for (const s of states) {
    const e = effectiveState(s, tombstones);
    if (compareStates(e, best) > 0) best = e;
  }
  return best;
}

export interface SideTagState {
  side: string;
  state: TagState;
}

export type SideAction =
  | { side: string; action: 'copy'; digest: string; from: string }
  | { side: string; action: 'delete'; digest: string };

export interface TagResolution {
  winner: TagState;
  /** What each side must do to hold the winner, sides in code-unit order. */
  actions: SideAction[];
  /** Sides whose tombstone for the tag has expired and may be purged. */
  expired: string[];
}

/**
 * Resolves one tag across the sides of a two-way policy: the winner and the work that makes
 * every side hold it. A copy comes from the first side (in order) that holds the winning digest.
 */
export function resolveAcrossSides(
  sides: readonly SideTagState[],
  tombstones: TombstonePolicy,
): TagResolution {
  const ordered = [...sides].sort((a, b) => compareCodeUnits(a.side, b.side));
  const winner = resolveTag(
    ordered.map((s) => s.state),
    tombstones,
  );
  const expired = ordered.filter((s) => isExpired(s.state, tombstones)).map((s) => s.side);
  const actions: SideAction[] = [];
  if (winner.kind === 'present') {
    const holder = ordered.find((s) => s.state.kind === 'present' && s.state.digest === winner.digest);
    for (const s of ordered) {
      if (s.state.kind === 'present' && s.state.digest === winner.digest) continue;
      actions.push({ side: s.side, action: 'copy', digest: winner.digest, from: holder?.side ?? '' });
    }
  } else if (winner.kind === 'deleted') {
    for (const s of ordered) {
      if (s.state.kind === 'present')
        actions.push({ side: s.side, action: 'delete', digest: s.state.digest });
    }
  }
  return { winner, actions, expired };
}
