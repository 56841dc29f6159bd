import { describe, expect, it } from 'vitest';
import {
  ABSENT,
  compareStates,
  resolveAcrossSides,
  resolveTag,
  type TagState,
  type TombstonePolicy,
} from './conflict.js';

const A = 'sha256:' + 'a'.repeat(64);
const B = 'sha256:' + 'b'.repeat(64);
const HOUR = 3_600_000;
const NOW = 1_000 * HOUR;
const T: TombstonePolicy = { now: NOW, ttlMs: 24 * HOUR };

const pushed = (digest: string, at: number): TagState => ({ kind: 'present', digest, pushedAt: at });
const deleted = (at: number): TagState => ({ kind: 'deleted', deletedAt: at });

describe('resolveTag: two sides', () => {
  const t1 = NOW - 2 * HOUR;
  const t2 = NOW - HOUR;
  const CASES: Array<[name: string, a: TagState, b: TagState, winner: TagState]> = [
    ['same digest, either time', pushed(A, t1), pushed(A, t2), pushed(A, t2)],
    ['later push wins', pushed(A, t2), pushed(B, t1), pushed(A, t2)],
    ['later push wins (larger digest older)', pushed(A, t2), pushed(B, t1), pushed(A, t2)],
    ['same time: larger digest wins', pushed(A, t1), pushed(B, t1), pushed(B, t1)],
    ['push beats absent', pushed(A, t1), ABSENT, pushed(A, t1)],
    ['absent and absent', ABSENT, ABSENT, ABSENT],
    ['tombstone beats an older push', deleted(t2), pushed(A, t1), deleted(t2)],
    ['a newer push beats a tombstone', deleted(t1), pushed(A, t2), pushed(A, t2)],
    ['same time: the deletion wins', deleted(t1), pushed(B, t1), deleted(t1)],
    ['tombstone beats absent', deleted(t1), ABSENT, deleted(t1)],
    ['two tombstones: the later', deleted(t1), deleted(t2), deleted(t2)],
    [
      'an expired tombstone is absent: an older push comes back',
      deleted(NOW - 25 * HOUR),
      pushed(A, NOW - 30 * HOUR),
      pushed(A, NOW - 30 * HOUR),
    ],
    ['an expired tombstone against nothing', deleted(NOW - 25 * HOUR), ABSENT, ABSENT],
    [
      'exactly at the TTL it has expired',
      deleted(NOW - 24 * HOUR),
      pushed(A, NOW - 48 * HOUR),
      pushed(A, NOW - 48 * HOUR),
    ],
    [
      'just before the TTL it holds',
      deleted(NOW - 24 * HOUR + 1),
      pushed(A, NOW - 48 * HOUR),
      deleted(NOW - 24 * HOUR + 1),
    ],
  ];
  it.each(CASES)('%s', (_name, a, b, winner) => {
    expect(resolveTag([a, b], T)).toEqual(winner);
    expect(resolveTag([b, a], T)).toEqual(winner);
  });
});

describe('resolveTag: the rule is a total order, so every side agrees', () => {
  // Every kind of state at a few times, digests and tombstone ages.
  const times = [NOW - 48 * HOUR, NOW - 2 * HOUR, NOW - HOUR];
  const states: TagState[] = [
    ABSENT,
    ...times.flatMap((t) => [pushed(A, t), pushed(B, t), deleted(t)]),
    deleted(NOW - 30 * HOUR),
  ];

  it('antisymmetric and consistent with equality', () => {
    for (const a of states) {
      for (const b of states) {
        expect(Math.sign(compareStates(a, b)) + Math.sign(compareStates(b, a))).toBe(0);
        if (compareStates(a, b) === 0) expect(a).toEqual(b);
      }
    }
  });

  it('transitive', () => {
    for (const a of states)
      for (const b of states)
        for (const c of states) {
          if (compareStates(a, b) <= 0 && compareStates(b, c) <= 0)
            expect(compareStates(a, c)).toBeLessThanOrEqual(0);
        }
  });

  it('any order of three sides gives the same winner', () => {
    const permutations = (xs: TagState[]): TagState[][] =>
      xs.length <= 1
        ? [xs]
        : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
    for (const a of states)
      for (const b of states)
        for (const c of states) {
          const winners = permutations([a, b, c]).map((p) => resolveTag(p, T));
          for (const w of winners) expect(w).toEqual(winners[0]);
          // and folding pairwise gives the same as all at once (associative)
          expect(resolveTag([resolveTag([a, b], T), c], T)).toEqual(winners[0]);
        }
  });
});

describe('resolveAcrossSides', () => {
  it('copies the winner to every side that lacks it, from the first side holding it', () => {
    const r = resolveAcrossSides(
      [
        { side: 'hq', state: pushed(A, NOW - 2 * HOUR) },
        { side: 'branch-2', state: pushed(B, NOW - HOUR) },
        { side: 'branch-1', state: ABSENT },
      ],
      T,
    );
    expect(r.winner).toEqual(pushed(B, NOW - HOUR));
    expect(r.actions).toEqual([
      { side: 'branch-1', action: 'copy', digest: B, from: 'branch-2' },
      { side: 'hq', action: 'copy', digest: B, from: 'branch-2' },
    ]);
    expect(r.expired).toEqual([]);
  });

  it('propagates a deletion and never brings the tag back', () => {
    const r = resolveAcrossSides(
      [
        { side: 'a', state: deleted(NOW - HOUR) },
        { side: 'b', state: pushed(A, NOW - 2 * HOUR) },
        { side: 'c', state: pushed(A, NOW - 3 * HOUR) },
      ],
      T,
    );
    expect(r.winner).toEqual(deleted(NOW - HOUR));
    expect(r.actions).toEqual([
      { side: 'b', action: 'delete', digest: A },
      { side: 'c', action: 'delete', digest: A },
    ]);
  });

  it('nothing to do when every side holds the winner; expired tombstones are reported', () => {
    const r = resolveAcrossSides(
      [
        { side: 'a', state: pushed(A, NOW - HOUR) },
        { side: 'b', state: pushed(A, NOW - 2 * HOUR) },
        { side: 'c', state: deleted(NOW - 40 * HOUR) },
      ],
      T,
    );
    expect(r.winner).toEqual(pushed(A, NOW - HOUR));
    expect(r.actions).toEqual([{ side: 'c', action: 'copy', digest: A, from: 'a' }]);
    expect(r.expired).toEqual(['c']);
  });

  it('a newer push on one side resurrects the tag on the sides holding a tombstone', () => {
    const r = resolveAcrossSides(
      [
        { side: 'a', state: deleted(NOW - 2 * HOUR) },
        { side: 'b', state: pushed(B, NOW - HOUR) },
      ],
      T,
    );
    expect(r.actions).toEqual([{ side: 'a', action: 'copy', digest: B, from: 'b' }]);
  });

  it('absent everywhere: nothing', () => {
    expect(resolveAcrossSides([{ side: 'a', state: ABSENT }], T)).toEqual({
      winner: ABSENT,
      actions: [],
      expired: [],
    });
  });
});
