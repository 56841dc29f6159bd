import { describe, expect, it } from 'vitest';
import { checkCopy, checkDeletion, planTwoWay, type SideRecords, type TwoWayOptions } from './two-way.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const DAY = 86_400_000;
const NOW = 100 * DAY;

function side(tags: Record<string, [string, number]>, tombstones: Record<string, number> = {}): SideRecords {
  return {
    digests: new Map(Object.entries(tags).map(([t, [d]]) => [t, d])),
    pushTimes: new Map(Object.entries(tags).map(([t, [, p]]) => [t, p])),
    tombstones: new Map(Object.entries(tombstones).map(([t, at]) => [t, { digest: D1, deletedAt: at }])),
  };
}

const options: TwoWayOptions = {
  override: true,
  replicateDeletion: true,
  tagFilter: () => true,
  now: NOW,
  tombstoneTtlMs: 7 * DAY,
};

function plan(src: SideRecords, dst: SideRecords, more: Partial<TwoWayOptions> = {}) {
  return planTwoWay([{ source: 'p/r', destination: 'p/r', sourceSide: src, destinationSide: dst }], {
    ...options,
    ...more,
  });
}

describe('planTwoWay', () => {
  it('copies a tag only this side has, and leaves one only the destination has', () => {
    const p = plan(side({ a: [D1, NOW - 10] }), side({ b: [D2, NOW - 5] }));
    expect(p.copy.map((c) => c.tag)).toEqual(['a']);
    expect(p.delete).toEqual([]);
    expect(p.heldByDestination.map((h) => h.tag)).toEqual(['b']);
  });

  it('the later push wins: copied when here, nothing when there; the same digest is unchanged', () => {
    expect(plan(side({ t: [D1, NOW - 1] }), side({ t: [D2, NOW - 2] })).copy).toMatchObject([
      { tag: 't', digest: D1, replaces: D2 },
    ]);
    const lost = plan(side({ t: [D1, NOW - 2] }), side({ t: [D2, NOW - 1] }));
    expect(lost.copy).toEqual([]);
    expect(lost.heldByDestination.map((h) => h.digest)).toEqual([D2]);
    // The bounce of a copy: same digest whatever the times.
    expect(plan(side({ t: [D1, NOW - 1] }), side({ t: [D1, NOW] })).unchanged).toHaveLength(1);
  });

  it('ties go to the larger digest on both sides', () => {
    const ab = plan(side({ t: [D1, NOW] }), side({ t: [D2, NOW] }));
    const ba = plan(side({ t: [D2, NOW] }), side({ t: [D1, NOW] }));
    expect(ab.copy).toEqual([]);
    expect(ba.copy).toMatchObject([{ digest: D2 }]);
  });

  it('a tombstone here newer than the push there deletes it there (with replicate_deletion)', () => {
    const p = plan(side({}, { t: NOW - 1 }), side({ t: [D1, NOW - 2] }));
    expect(p.delete).toMatchObject([{ tag: 't', digest: D1 }]);
    expect(
      plan(side({}, { t: NOW - 1 }), side({ t: [D1, NOW - 2] }), { replicateDeletion: false }).delete,
    ).toEqual([]);
    // A push there after the deletion here wins: kept.
    expect(plan(side({}, { t: NOW - 2 }), side({ t: [D1, NOW - 1] })).delete).toEqual([]);
  });

  it('never copies back a tag the destination deleted later, unless its tombstone expired', () => {
    expect(plan(side({ t: [D1, NOW - 2] }), side({}, { t: NOW - 1 })).copy).toEqual([]);
    const expired = plan(side({ t: [D1, NOW - 9 * DAY] }), side({}, { t: NOW - 8 * DAY }));
    expect(expired.copy.map((c) => c.tag)).toEqual(['t']);
  });

  it('honours override and the tag filter', () => {
    const p = plan(side({ t: [D1, NOW - 1] }), side({ t: [D2, NOW - 2] }), { override: false });
    expect(p.copy).toEqual([]);
    expect(p.skipped).toMatchObject([{ tag: 't', sourceDigest: D1 }]);
    expect(plan(side({ dev: [D1, NOW] }), side({}), { tagFilter: (t) => t !== 'dev' }).copy).toEqual([]);
  });
});

describe('checkCopy (a copy task, before it copies and before it writes the tag)', () => {
  const ttl = { now: NOW, ttlMs: 7 * DAY };

  it('copies while the source version still wins', () => {
    expect(checkCopy('t', side({ t: [D1, NOW - 1] }), side({}), ttl)).toEqual({ copy: true });
    expect(checkCopy('t', side({ t: [D1, NOW - 1] }), side({ t: [D2, NOW - 2] }), ttl)).toEqual({
      copy: true,
    });
  });

  it('does not overwrite a later push made at the destination since the plan', () => {
    const check = checkCopy('t', side({ t: [D1, NOW - 2] }), side({ t: [D2, NOW - 1] }), ttl);
    expect(check.copy).toBe(false);
    expect(check.reason).toMatch(/later version/);
  });

  it('does not undo a later deletion at the destination, nor copy what the source lost', () => {
    expect(checkCopy('t', side({ t: [D1, NOW - 2] }), side({}, { t: NOW - 1 }), ttl).copy).toBe(false);
    expect(checkCopy('t', side({}, { t: NOW - 1 }), side({ t: [D2, NOW - 2] }), ttl).copy).toBe(false);
  });

  it('nothing to do when the destination holds the same digest already', () => {
    expect(checkCopy('t', side({ t: [D1, NOW - 2] }), side({ t: [D1, NOW] }), ttl).copy).toBe(false);
  });

  it('ties: the larger digest, as planning decides', () => {
    expect(checkCopy('t', side({ t: [D2, NOW] }), side({ t: [D1, NOW] }), ttl).copy).toBe(true);
    expect(checkCopy('t', side({ t: [D1, NOW] }), side({ t: [D2, NOW] }), ttl).copy).toBe(false);
  });
});

describe('checkDeletion (a deletion task, right before it deletes)', () => {
  const ttl = { now: NOW, ttlMs: 7 * DAY };

  it('deletes while the deletion here is later than the version there', () => {
    expect(checkDeletion('t', side({}, { t: NOW - 1 }), side({ t: [D2, NOW - 2] }), ttl)).toEqual({
      copy: true,
    });
  });

  it('keeps a version pushed at the destination after the deletion here', () => {
    const check = checkDeletion('t', side({}, { t: NOW - 2 }), side({ t: [D2, NOW - 1] }), ttl);
    expect(check.copy).toBe(false);
    expect(check.reason).toMatch(/pushed after its deletion/);
  });

  it('nothing to do when the tag is gone there already', () => {
    expect(checkDeletion('t', side({}, { t: NOW - 1 }), side({}), ttl).copy).toBe(false);
  });
});
