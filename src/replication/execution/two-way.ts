import {
  compareCodeUnits,
  resolveAcrossSides,
  type CopyWork,
  type ReconciliationPlan,
  type TagAt,
  type TagState,
} from '../plan/index.js';
import type { TagRecords } from './sides.js';

// Planning a push from one side of a two-way (multi-master) pair to the other, when both sides
// tell when each tag got its digest. The other direction is another policy (on the peer, or a
// second policy here) planning the same way, so each policy only brings its destination up to
// the winner of resolveAcrossSides (latest push, a deletion beating a push at the same time,
// then the larger digest):
//
// - the winner is a version this side (the source) holds and the destination does not: copy
//   (or skipped when the destination holds another digest and `override` is off);
// - the winner is a tombstone (deleted here, or at the destination) and the destination still
//   has the tag: delete there when `replicate_deletion` is on;
// - the winner is the destination's version, or both hold the same digest: nothing. A tag the
//   destination has and the source never had is the destination's own and is never deleted; a
//   tag the source has but the destination deleted later is never copied back.
//
// With correct origin push times a copy is "unchanged" when it bounces back through the peer's
// event-based policy, so two policies pointing at each other cannot loop.

export interface SideRecords {
  digests: ReadonlyMap<string, string>;
  pushTimes: ReadonlyMap<string, number>;
  tombstones: ReadonlyMap<string, { digest: string; deletedAt: number }>;
}

/** A side's records as the rule reads them (a side that keeps no push times or tombstones: none). */
export function sideRecords(r: TagRecords): SideRecords {
  return { digests: r.digests, pushTimes: r.pushTimes ?? new Map(), tombstones: r.tombstones ?? new Map() };
}

export interface TwoWayPair {
  source: string;
  destination: string;
  sourceSide: SideRecords;
  destinationSide: SideRecords;
}

export interface TwoWayOptions {
  override: boolean;
  replicateDeletion: boolean;
  /** A tag passes the policy's tag filter. */
  tagFilter: (tag: string) => boolean;
  now: number;
  tombstoneTtlMs: number;
}

export interface TwoWayPlan extends ReconciliationPlan {
  /** Tags whose winner is the destination's version (or a deletion it needs no work for). */
  heldByDestination: TagAt[];
}

function stateOf(side: SideRecords, tag: string): TagState {
  const digest = side.digests.get(tag);
  if (digest !== undefined) return { kind: 'present', digest, pushedAt: side.pushTimes.get(tag) ?? 0 };
  const tombstone = side.tombstones.get(tag);
  if (tombstone) return { kind: 'deleted', deletedAt: tombstone.deletedAt };
  return { kind: 'absent' };
}

export function planTwoWay(pairs: readonly TwoWayPair[], options: TwoWayOptions): TwoWayPlan {
  const plan: TwoWayPlan = {
    copy: [],
    delete: [],
    unchanged: [],
    skipped: [],
    keptForeign: [],
    conflicts: [],
    heldByDestination: [],
  };
  const tombstones = { now: options.now, ttlMs: options.tombstoneTtlMs };
  const sorted = [...pairs].sort((a, b) => compareCodeUnits(a.destination, b.destination));
  for (const pair of sorted) {
    const { sourceSide: src, destinationSide: dst, destination } = pair;
    const tags = new Set([
      ...src.digests.keys(),
      ...src.tombstones.keys(),
      ...dst.digests.keys(),
      ...dst.tombstones.keys(),
    ]);
    for (const tag of [...tags].filter(options.tagFilter).sort(compareCodeUnits)) {
      const here = stateOf(src, tag);
      const there = stateOf(dst, tag);
      const current = dst.digests.get(tag);
      const resolution = resolveAcrossSides(
        [
          { side: 'source', state: here },
          { side: 'destination', state: there },
        ],
        tombstones,
      );
      const action = resolution.actions.find((a) => a.side === 'destination');
      if (here.kind === 'present' && current === here.digest) {
        plan.unchanged.push({ destination, tag, digest: current });
      } else if (action?.action === 'copy' && here.kind === 'present' && here.digest === action.digest) {
        const work: CopyWork = {
          destination,
          tag,
          digest: action.digest,
          source: pair.source,
          replaces: current ?? null,
        };
        if (current === undefined || options.override) plan.copy.push(work);
        else
          plan.skipped.push({
            destination,
            tag,
            digest: current,
            source: pair.source,
            sourceDigest: action.digest,
            reason: 'override-disabled',
          });
      } else if (action?.action === 'delete') {
        if (options.replicateDeletion) plan.delete.push({ destination, tag, digest: action.digest });
        else plan.heldByDestination.push({ destination, tag, digest: action.digest });
      } else if (current !== undefined) {
        plan.heldByDestination.push({ destination, tag, digest: current });
      }
    }
  }
  return plan;
}

export interface CopyCheck {
  /** Copy this version (by digest: the one whose push time the destination will learn). */
  copy: boolean;
  /** Why not, for the task's log. */
  reason?: string;
}

/**
 * Asked by a copy task when it starts and again right before it writes the tag (a copy may take
 * long, and a plan may be old): does the version the source holds now still win at the
 * destination? A push made at the destination since the plan, later than the source's, must not
 * be overwritten by the copy of an older version; a tombstone there newer than the source's push
 * must not be undone. Same answer as planTwoWay for the one tag (copy when the source's version
 * is the winner and the destination does not hold it yet); ttl as in planning.
 */
export function checkCopy(
  tag: string,
  source: SideRecords,
  destination: SideRecords,
  tombstones: { now: number; ttlMs: number },
): CopyCheck {
  const here = stateOf(source, tag);
  if (here.kind !== 'present') return { copy: false, reason: `${tag} is no longer at the source` };
  const there = stateOf(destination, tag);
  if (there.kind === 'present' && there.digest === here.digest)
    return { copy: false, reason: `the destination holds ${tag} at the same digest already` };
  const winner = winnerOf(here, there, tombstones);
  if (winner.kind === 'present' && winner.digest === here.digest) return { copy: true };
  return {
    copy: false,
    reason:
      there.kind === 'deleted'
        ? `${tag} was deleted at the destination after its push here`
        : `the destination holds a later version of ${tag}`,
  };
}

/**
 * Asked by a deletion task right before it deletes: does the source's deletion still win at the
 * destination? A push made there after the deletion here must stay.
 */
export function checkDeletion(
  tag: string,
  source: SideRecords,
  destination: SideRecords,
  tombstones: { now: number; ttlMs: number },
): CopyCheck {
  const here = stateOf(source, tag);
  const there = stateOf(destination, tag);
  if (there.kind !== 'present') return { copy: false, reason: `${tag} is gone at the destination already` };
  if (winnerOf(here, there, tombstones).kind === 'deleted') return { copy: true };
  return { copy: false, reason: `the destination holds a version of ${tag} pushed after its deletion here` };
}

function winnerOf(here: TagState, there: TagState, tombstones: { now: number; ttlMs: number }): TagState {
  return resolveAcrossSides(
    [
      { side: 'source', state: here },
      { side: 'destination', state: there },
    ],
    tombstones,
  ).winner;
}
