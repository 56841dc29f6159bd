import { describe, expect, it } from 'vitest';
import { planReconciliation, type DiffOptions, type RepositoryPair } from './diff.js';

const A = 'sha256:' + 'a'.repeat(64);
const B = 'sha256:' + 'b'.repeat(64);
const C = 'sha256:' + 'c'.repeat(64);

const pair = (
  source: string,
  destination: string,
  sourceTags: Record<string, string>,
  destinationTags: Record<string, string>,
): RepositoryPair => ({ source, destination, sourceTags, destinationTags });

const ON: DiffOptions = { override: true, replicateDeletion: true };
const OFF: DiffOptions = { override: false, replicateDeletion: false };

describe('planReconciliation: one tag, every state', () => {
  // [source digest, destination digest, options] → the one kind of work expected
  const CASES: Array<
    [src: string | null, dst: string | null, options: DiffOptions, kind: string, foreign?: boolean]
  > = [
    [A, null, ON, 'copy'],
    [A, null, OFF, 'copy'],
    [A, A, ON, 'unchanged'],
    [A, A, OFF, 'unchanged'],
    [A, B, ON, 'copy'],
    [A, B, { override: true, replicateDeletion: false }, 'copy'],
    [A, B, OFF, 'skipped'],
    [A, B, { override: false, replicateDeletion: true }, 'skipped'],
    [null, A, ON, 'delete'],
    [null, A, { override: false, replicateDeletion: true }, 'delete'],
    [null, A, OFF, 'none'],
    [null, A, { override: true, replicateDeletion: false }, 'none'],
    [null, A, ON, 'keptForeign', true],
    [A, B, ON, 'copy', true],
  ];
  it.each(CASES)('source %s, destination %s, %j: %s (foreign %s)', (src, dst, options, kind, foreign) => {
    const plan = planReconciliation([pair('p/r', 'q/r', src ? { t: src } : {}, dst ? { t: dst } : {})], {
      ...options,
      ...(foreign && { isForeign: () => true }),
    });
    const kinds = (['copy', 'delete', 'unchanged', 'skipped', 'keptForeign', 'conflicts'] as const).filter(
      (k) => plan[k].length > 0,
    );
    expect(kinds).toEqual(kind === 'none' ? [] : [kind]);
    expect(Object.values(plan).flat().length).toBe(kind === 'none' ? 0 : 1);
  });

  it('records what a copy replaces and what a skip keeps', () => {
    expect(planReconciliation([pair('p/r', 'q/r', { t: A }, { t: B })], ON).copy).toEqual([
      { destination: 'q/r', tag: 't', digest: A, source: 'p/r', replaces: B },
    ]);
    expect(planReconciliation([pair('p/r', 'q/r', { t: A }, {})], ON).copy[0]?.replaces).toBeNull();
    expect(planReconciliation([pair('p/r', 'q/r', { t: A }, { t: B })], OFF).skipped).toEqual([
      {
        destination: 'q/r',
        tag: 't',
        digest: B,
        source: 'p/r',
        sourceDigest: A,
        reason: 'override-disabled',
      },
    ]);
  });
});

describe('planReconciliation: whole repositories', () => {
  it('copies only the difference, in a deterministic order', () => {
    const plan = planReconciliation(
      [
        pair('lib/zeta', 'mirror/zeta', { v2: B, v1: A, latest: B }, { v1: A, old: C }),
        pair('lib/alpha', 'mirror/alpha', { b: A, a: A }, {}),
      ],
      ON,
    );
    expect(plan.copy.map((w) => `${w.destination}:${w.tag}`)).toEqual([
      'mirror/alpha:a',
      'mirror/alpha:b',
      'mirror/zeta:latest',
      'mirror/zeta:v2',
    ]);
    expect(plan.unchanged).toEqual([{ destination: 'mirror/zeta', tag: 'v1', digest: A }]);
    expect(plan.delete).toEqual([{ destination: 'mirror/zeta', tag: 'old', digest: C }]);
  });

  it('gives the same plan whatever order the input comes in (Map or object, pairs shuffled)', () => {
    const pairs = [
      pair('a/x', 'n/x', { t2: A, t1: B }, { t3: C }),
      pair('b/y', 'n/y', { z: A }, { z: B }),
      pair('c/w', 'n/w', {}, { gone: A }),
    ];
    const reversed = [...pairs].reverse().map((p) => ({
      ...p,
      sourceTags: new Map(Object.entries(p.sourceTags).reverse()),
      destinationTags: new Map(Object.entries(p.destinationTags).reverse()),
    }));
    expect(planReconciliation(reversed, ON)).toEqual(planReconciliation(pairs, ON));
  });

  it('nothing to do when both sides agree', () => {
    const plan = planReconciliation([pair('a/x', 'a/x', { v1: A, v2: B }, { v1: A, v2: B })], ON);
    expect(plan.copy).toEqual([]);
    expect(plan.delete).toEqual([]);
    expect(plan.unchanged).toHaveLength(2);
  });

  it('deletes everything of a repository the source no longer has, except foreign tags', () => {
    const plan = planReconciliation([pair('a/x', 'n/x', {}, { v1: A, v2: B, theirs: C })], {
      ...ON,
      isForeign: (repository, tag) => repository === 'n/x' && tag === 'theirs',
    });
    expect(plan.delete.map((d) => d.tag)).toEqual(['v1', 'v2']);
    expect(plan.keptForeign).toEqual([{ destination: 'n/x', tag: 'theirs', digest: C }]);
  });

  it('never deletes without replicate_deletion, even a whole repository', () => {
    const plan = planReconciliation([pair('a/x', 'n/x', {}, { v1: A, v2: B })], {
      override: true,
      replicateDeletion: false,
    });
    expect(Object.values(plan).flat()).toEqual([]);
  });
});

describe('planReconciliation: several sources flattened onto one destination', () => {
  it('reports a tag they disagree on and neither copies nor deletes it', () => {
    const plan = planReconciliation(
      [pair('b/app', 'n/app', { v1: B, only_b: B }, { v1: C }), pair('a/app', 'n/app', { v1: A }, { v1: C })],
      ON,
    );
    expect(plan.conflicts).toEqual([
      {
        destination: 'n/app',
        tag: 'v1',
        sources: [
          { source: 'a/app', digest: A },
          { source: 'b/app', digest: B },
        ],
      },
    ]);
    expect(plan.copy.map((w) => w.tag)).toEqual(['only_b']);
    expect(plan.delete).toEqual([]);
  });

  it('copies a tag they agree on once, from the first source', () => {
    const plan = planReconciliation(
      [pair('b/app', 'n/app', { v1: A }, {}), pair('a/app', 'n/app', { v1: A }, {})],
      ON,
    );
    expect(plan.copy).toEqual([
      { destination: 'n/app', tag: 'v1', digest: A, source: 'a/app', replaces: null },
    ]);
  });

  it('a tag one source has keeps the destination tag from being deleted', () => {
    const plan = planReconciliation(
      [pair('a/app', 'n/app', {}, { v1: A }), pair('b/app', 'n/app', { v1: A }, { v1: A })],
      ON,
    );
    expect(plan.delete).toEqual([]);
    expect(plan.unchanged).toEqual([{ destination: 'n/app', tag: 'v1', digest: A }]);
  });
});
