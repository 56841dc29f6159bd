import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isEventOfType, type EventType, type NewEvent, type RecordedEvent } from '../../src/domain/events.js';
import type { Database, Queryable } from '../../src/metadata/database.js';
import { givenUpEntries } from '../../src/metadata/event-backlog-table.js';
import { purgeDispatched, recordEvents } from '../../src/metadata/outbox-table.js';
import type { EventConsumer } from '../../src/services/events/consumer.js';
import { EventDispatcher, type ConsumerFailure } from '../../src/services/events/dispatcher.js';
import { nudgeAfterEventCommits } from '../../src/services/events/nudging-database.js';
import { onPostgres, openJobsDatabase } from '../helpers/jobs.js';
import { waitFor } from '../helpers/poll.js';

// The outbox dispatcher on the database of the vitest project (PGlite or PostgreSQL), with test
// consumers that write what they are given into a table in the dispatcher's transaction: every
// event reaches every consumer that wants it exactly once, in sequence order, and a failing
// consumer is retried (or given up) without losing or repeating the others' effects.

const ACTOR = { name: 'alice', kind: 'user', clientIp: '127.0.0.1' } as const;

function tagCreated(n: number): NewEvent<'tag.created'> {
  return {
    type: 'tag.created',
    actor: ACTOR,
    projectName: 'p',
    data: { repository: 'p/r', tag: `t${n}`, digest: `sha256:${String(n).padStart(64, '0')}` },
  };
}

function pulled(n: number): NewEvent<'artifact.pulled'> {
  return {
    type: 'artifact.pulled',
    actor: ACTOR,
    projectName: 'p',
    data: { repository: 'p/r', digest: `sha256:${String(n).padStart(64, '0')}`, tag: null, count: n },
  };
}

/** A consumer that writes a row per event it takes; `fail` may throw after its writes. */
function recorder(
  name: string,
  types: ReadonlySet<EventType> | 'all',
  fail: (events: readonly RecordedEvent[]) => boolean = () => false,
): EventConsumer {
  return {
    name,
    types,
    async consume(tx, events) {
      for (const e of events) {
        await tx.query('INSERT INTO consumed_test (consumer, event_id, sequence) VALUES ($1, $2, $3)', [
          name,
          e.id,
          e.sequence,
        ]);
      }
      // After its writes: the savepoint must undo them.
      if (fail(events)) throw new Error(`${name} refuses`);
    },
  };
}

async function consumedBy(db: Queryable, consumer: string): Promise<number[]> {
  const rows = await db.query<{ sequence: string | number }>(
    'SELECT sequence FROM consumed_test WHERE consumer = $1 ORDER BY id',
    [consumer],
  );
  return rows.map((r) => Number(r.sequence));
}

async function sequencesOf(db: Queryable, type?: EventType): Promise<number[]> {
  const rows = await db.query<{ sequence: string | number }>(
    `SELECT sequence FROM events ${type ? 'WHERE type = $1' : ''} ORDER BY sequence`,
    type ? [type] : [],
  );
  return rows.map((r) => Number(r.sequence));
}

async function undispatched(db: Queryable): Promise<number> {
  const rows = await db.query<{ n: string | number }>(
    'SELECT count(*) AS n FROM events WHERE dispatched_at IS NULL',
  );
  return Number(rows[0]?.n ?? 0);
}

describe('event dispatcher', () => {
  let raw: Database | undefined;
  const dispatchers: EventDispatcher[] = [];

  // One database for the file (opening one is the slow part); each test starts from empty tables.
  beforeAll(async () => {
    raw = (await openJobsDatabase()).db;
    await raw.query(
      'CREATE TABLE consumed_test (id bigserial PRIMARY KEY, consumer text NOT NULL, event_id uuid NOT NULL, sequence bigint NOT NULL)',
    );
  });

  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
  });

  afterAll(async () => {
    await raw?.close();
  });

  async function setup(): Promise<Database> {
    if (!raw) throw new Error('no database');
    await raw.query('TRUNCATE events, event_backlog, consumed_test');
    return raw;
  }

  function dispatcher(
    db: Database,
    consumers: EventConsumer[],
    failures: ConsumerFailure[] = [],
    maxAttempts = 5,
  ): EventDispatcher {
    const d = new EventDispatcher(db, consumers, {
      maxAttempts,
      backoffMs: 5,
      retentionMs: 3_600_000,
      pollMs: 50,
      onConsumerFailure: (f) => failures.push(f),
      onError: (err) => console.error('dispatch', err),
    });
    dispatchers.push(d);
    return d;
  }

  it('hands every event to each consumer of its type once, in sequence order, woken by the commit', async () => {
    const base = await setup();
    let d: EventDispatcher | undefined = undefined;
    const db = nudgeAfterEventCommits(base, () => d?.nudge());
    d = dispatcher(db, [recorder('all', 'all'), recorder('tags', new Set<EventType>(['tag.created']))]);
    d.start();
    for (let batch = 0; batch < 4; batch++) {
      await db.transaction((tx) =>
        recordEvents(tx, [tagCreated(batch * 3), pulled(batch * 3 + 1), tagCreated(batch * 3 + 2)]),
      );
    }
    await recordEvents(db, [pulled(99)]); // outside a transaction, as the pull flush writes
    await waitFor('all dispatched', async () => (await undispatched(db)) === 0);
    await d.drain(); // one more round: nothing is handed out twice
    expect(await consumedBy(db, 'all')).toEqual(await sequencesOf(db));
    expect(await consumedBy(db, 'tags')).toEqual(await sequencesOf(db, 'tag.created'));
    expect((await consumedBy(db, 'tags')).length).toBe(8);
  });

  it('retries a failing consumer in order while the others go on, without repeating anyone', async () => {
    const db = await setup();
    const failures: ConsumerFailure[] = [];
    let refusals = 3;
    const flaky = recorder('flaky', 'all', (events) => {
      // Refuses any delivery containing the 3rd event until it has refused three times.
      const third = events.some((e) => isEventOfType(e, 'tag.created') && e.data.tag === 't2');
      return third && refusals-- > 0;
    });
    const d = dispatcher(db, [recorder('steady', 'all'), flaky], failures);
    await recordEvents(db, [0, 1, 2, 3, 4].map(tagCreated));
    // On PostgreSQL a transaction of another test file on the same server may hold the events
    // back for a moment (dispatch never passes over an earlier-begun writer): drain until given.
    const all = await sequencesOf(db);
    await waitFor('the steady consumer got every event', async () => {
      await d.drain();
      return (await consumedBy(db, 'steady')).length === all.length;
    });
    // The steady consumer got everything; the flaky one kept nothing of the refused delivery
    // (it is behind, or, had its backoff already passed, caught up whole: never a part).
    expect(await consumedBy(db, 'steady')).toEqual(all);
    expect([[], all]).toContainEqual(await consumedBy(db, 'flaky'));
    // Later events queue behind the flaky consumer's backlog.
    await recordEvents(db, [5, 6].map(tagCreated));
    d.start();
    await waitFor('the flaky consumer caught up', async () => (await consumedBy(db, 'flaky')).length === 7);
    await d.drain();
    const later = await sequencesOf(db);
    expect(await consumedBy(db, 'flaky')).toEqual(later);
    expect(await consumedBy(db, 'steady')).toEqual(later);
    expect(failures.length).toBe(3);
    expect(failures.every((f) => f.consumer === 'flaky' && !f.givenUp)).toBe(true);
    expect(await givenUpEntries(db)).toEqual([]);
  });

  it('gives up an event a consumer always refuses, says so, and delivers the rest', async () => {
    const db = await setup();
    const failures: ConsumerFailure[] = [];
    const poisoned = recorder('poisoned', 'all', (events) =>
      events.some((e) => isEventOfType(e, 'tag.created') && e.data.tag === 't1'),
    );
    const d = dispatcher(db, [poisoned, recorder('steady', 'all')], failures, 3);
    await recordEvents(db, [0, 1, 2].map(tagCreated));
    d.start();
    await waitFor('the poisoned event given up', async () => failures.some((f) => f.givenUp));
    await waitFor('the rest delivered', async () => (await consumedBy(db, 'poisoned')).length === 2);
    const [first, second, third] = await sequencesOf(db);
    expect(await consumedBy(db, 'poisoned')).toEqual([first, third]);
    expect(await consumedBy(db, 'steady')).toEqual([first, second, third]);
    const givenUp = await givenUpEntries(db);
    expect(givenUp).toEqual([
      { consumer: 'poisoned', sequence: second, attempts: 3, lastError: 'poisoned refuses' },
    ]);
    expect(failures.filter((f) => f.givenUp)).toHaveLength(1);
    // The purge keeps no event a backlog still owes, and drops given-up entries with their events.
    expect(await purgeDispatched(db, new Date(Date.now() + 60_000))).toBe(3);
    expect(await givenUpEntries(db)).toEqual([]);
  });

  it('two dispatchers on one database hand each event out once', async () => {
    const db = await setup();
    const consumers = () => [recorder('all', 'all')];
    const a = dispatcher(db, consumers());
    const b = dispatcher(db, consumers());
    a.start();
    b.start();
    for (let n = 0; n < 30; n++) await recordEvents(db, [tagCreated(n)]);
    await waitFor('all dispatched', async () => (await undispatched(db)) === 0);
    await Promise.all([a.drain(), b.drain()]);
    expect(await consumedBy(db, 'all')).toEqual(await sequencesOf(db));
  });

  it.runIf(onPostgres)('holds back a later commit until an earlier-begun transaction ends', async () => {
    const db = await setup();
    const d = dispatcher(db, [recorder('all', 'all')]);
    let releaseSlow!: () => void;
    const slowMayCommit = new Promise<void>((r) => (releaseSlow = r));
    let slowRecorded!: () => void;
    const recorded = new Promise<void>((r) => (slowRecorded = r));
    // The slow transaction begins writing first, then a fast one records and commits.
    const slow = db.transaction(async (tx) => {
      await tx.query('SELECT pg_current_xact_id()');
      await recordEvents(tx, [tagCreated(1)]);
      slowRecorded();
      await slowMayCommit;
    });
    await recorded;
    await db.transaction((tx) => recordEvents(tx, [tagCreated(2)]));
    await d.drain();
    expect(await consumedBy(db, 'all')).toEqual([]);
    releaseSlow();
    await slow;
    await d.drain();
    expect(await consumedBy(db, 'all')).toEqual(await sequencesOf(db));
  });
});
