import { describe, expect, it } from 'vitest';
import type { NewTask } from '../../metadata/replication-executions-table.js';
import type { SkippedDeletion } from '../../metadata/replication-skipped-deletions-table.js';
import { sharingTags, withholdImpossibleDeletions } from './deletion-skips.js';

const D = `sha256:${'a'.repeat(64)}`;
const E = `sha256:${'b'.repeat(64)}`;

const deletion = (tag: string, digest = D): NewTask => ({
  operation: 'deletion',
  srcRepository: 'p/app',
  dstRepository: 'p/app',
  tag,
  digest,
  deadlineMs: 1_000,
});
const skip = (tag: string, digest = D): SkippedDeletion => ({
  repository: 'p/app',
  tag,
  digest,
  reason: 'recorded',
  recordedAt: new Date(0),
});
const everyTag = () => true;

describe('sharingTags', () => {
  it('lists the other tags on the same digest, sorted', () => {
    const tags = new Map([
      ['b', D],
      ['a', D],
      ['c', E],
    ]);
    expect(sharingTags('b', D, tags)).toEqual(['a']);
    expect(sharingTags('c', E, tags)).toEqual([]);
  });
});

describe('withholdImpossibleDeletions', () => {
  it('withholds a recorded deletion while another tag the source keeps shares the manifest', () => {
    const views = new Map([
      [
        'p/app',
        {
          source: new Map([['keep', D]]),
          destination: new Map([
            ['old', D],
            ['keep', D],
          ]),
        },
      ],
    ]);
    const out = withholdImpossibleDeletions([deletion('old')], [skip('old')], views, everyTag);
    expect(out.tasks).toEqual([]);
    expect(out.withheld).toHaveLength(1);
    expect(out.withheld[0]?.reason).toContain(`keep (still wanted)`);
    expect(out.withheld[0]?.reason).toContain(`p/app@${D}`);
    expect(out.lapsed).toEqual([]);
  });

  it('withholds it while the sharing tag is outside the tag filter (never replication to delete)', () => {
    const views = new Map([
      [
        'p/app',
        {
          source: new Map(),
          destination: new Map([
            ['old', D],
            ['local', D],
          ]),
        },
      ],
    ]);
    const out = withholdImpossibleDeletions([deletion('old')], [skip('old')], views, (t) => t !== 'local');
    expect(out.tasks).toEqual([]);
  });

  it('plans it again, and drops the record, once the sharing tag is gone from the source too', () => {
    const views = new Map([
      [
        'p/app',
        {
          source: new Map(),
          destination: new Map([
            ['old', D],
            ['keep', D],
          ]),
        },
      ],
    ]);
    const planned = [deletion('old'), deletion('keep')];
    const out = withholdImpossibleDeletions(planned, [skip('old')], views, everyTag);
    expect(out.tasks).toEqual(planned);
    expect(out.lapsed.map((s) => s.tag)).toEqual(['old']);
  });

  it('drops a record whose tag moved or is no longer to be deleted; keeps records of unlisted repositories', () => {
    const views = new Map([['p/app', { source: new Map(), destination: new Map([['old', E]]) }]]);
    const moved = withholdImpossibleDeletions([deletion('old', E)], [skip('old', D)], views, everyTag);
    expect(moved.tasks).toHaveLength(1);
    expect(moved.lapsed).toHaveLength(1);
    const elsewhere = withholdImpossibleDeletions(
      [],
      [{ ...skip('old'), repository: 'p/other' }],
      views,
      everyTag,
    );
    expect(elsewhere.lapsed).toEqual([]);
  });
});
