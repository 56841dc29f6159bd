import type { EventType, RecordedEvent } from '../../domain/events.js';
import type { Database, Queryable } from '../../metadata/database.js';
import {
  backlogHead,
  clearBacklogEntry,
  consumersWithBacklog,
  inSavepoint,
  parkEvents,
  recordBacklogFailure,
} from '../../metadata/event-backlog-table.js';
import {
  claimUndispatched,
  eventsBySequence,
  hasDispatchWork,
  markDispatched,
  purgeDispatched,
  tryDispatchLock,
} from '../../metadata/outbox-table.js';
import type { EventConsumer } from './consumer.js';

// The outbox's dispatcher: hands recorded events to the consumers, in sequence order, at least once.
//
// - Waking it: whoever commits a transaction that recorded events calls `dispatcher.nudge()`
//   (void, never throws, cheap; a no-op when dispatch is off or stopped). A poll (every second)
//   picks up other instances' events, so a missed nudge only delays.
// - Adding a consumer: implement `EventConsumer` (consumer.ts) and add it to the `consumers` list
//   that src/wharf.ts gives the dispatcher's constructor. Nothing registers itself later.
//
// Each round is one transaction holding the cluster-wide dispatch lock (another instance's round
// skips): claim a batch, give each consumer its types inside a savepoint, mark the batch
// dispatched, commit. A consumer that throws has only its own writes undone; its events go to
// its backlog (event-backlog-table.ts), redelivered one at a time with backoff, and its later
// events queue behind them, so it still sees them in order while the others go on. After
// `maxAttempts` tries an event is given up for that consumer: logged, counted, and kept in
// the backlog table (given_up_at) until the retention purge.

const BATCH = 200;
const BACKLOG_BATCH = 50;
const POLL_MS = 1_000;
const PURGE_EVERY_MS = 10 * 60_000;
const MAX_BACKOFF_MS = 5 * 60_000;

/** A consumer's failure, for logs and metrics. */
export interface ConsumerFailure {
  consumer: string;
  error: unknown;
  /** The events concerned (one when redelivered from the backlog). */
  sequences: number[];
  /** Tries so far of these events by this consumer. */
  attempts: number;
  /** True when the event is given up for this consumer (no further tries). */
  givenUp: boolean;
}

export interface DispatcherOptions {
  /** Tries of one event by a failing consumer before it is given up. */
  maxAttempts: number;
  /** Wait before the first retry; doubled each try, capped at five minutes. */
  backoffMs: number;
  /** Dispatched events older than this are purged. */
  retentionMs: number;
  /** Called after a round committed (consumers enqueue jobs inside it: wake the job pool). */
  onCommitted?: () => void;
  onConsumed?: (consumer: string, count: number) => void;
  onConsumerFailure?: (failure: ConsumerFailure) => void;
  /** A round or the purge failed (database unreachable): it is tried again at the next poll. */
  onError?: (err: unknown) => void;
  pollMs?: number;
}

export class EventDispatcher {
  readonly #db: Database;
  readonly #consumers: readonly EventConsumer[];
  readonly #options: DispatcherOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #started = false;
  #stopped = false;
  #lastPurge = 0;

  constructor(db: Database, consumers: readonly EventConsumer[], options: DispatcherOptions) {
    const names = new Set(consumers.map((c) => c.name));
    if (names.size !== consumers.length) throw new Error('event consumers need distinct names');
    this.#db = db;
    this.#consumers = consumers;
    this.#options = options;
  }

  /** Starts the poll (after migrations: the outbox must exist). */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#timer = setInterval(() => this.nudge(), this.#options.pollMs ?? POLL_MS);
    this.nudge();
  }

  /** Dispatch soon: events were just committed. Never throws; rounds do not overlap. */
  nudge(): void {
    if (!this.#started || this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Stops polling and waits for the round in progress (before the database closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Runs rounds until nothing is left (tests, and a drain at shutdown). */
  async drain(): Promise<void> {
    while ((await this.runRound()) === 'more');
  }

  /**
   * One round: 'more' when a full batch was dispatched, 'done' when the outbox is empty,
   * 'busy' when another instance holds the dispatch lock.
   */
  async runRound(): Promise<'more' | 'done' | 'busy'> {
    // An idle outbox costs one statement per poll, not a transaction.
    if (!(await hasDispatchWork(this.#db))) return 'done';
    let delivered = false;
    const outcome = await this.#db.transaction(async (tx) => {
      if (!(await tryDispatchLock(tx))) return 'busy' as const;
      delivered = await this.#retryBacklogs(tx);
      const events = await claimUndispatched(tx, BATCH);
      if (events.length === 0) return 'done' as const;
      delivered = true;
      await this.#deliver(tx, events);
      await markDispatched(
        tx,
        events.map((e) => e.sequence),
      );
      return events.length === BATCH ? ('more' as const) : ('done' as const);
    });
    if (delivered) this.#options.onCommitted?.();
    return outcome;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        if ((await this.runRound()) === 'more') this.#again = true;
        await this.#purgeNowAndThen();
      } catch (err) {
        this.#options.onError?.(err);
        return;
      }
    } while (this.#again && !this.#stopped);
  }

  async #purgeNowAndThen(): Promise<void> {
    if (Date.now() - this.#lastPurge < PURGE_EVERY_MS) return;
    this.#lastPurge = Date.now();
    await purgeDispatched(this.#db, new Date(Date.now() - this.#options.retentionMs));
  }

  async #deliver(tx: Queryable, events: readonly RecordedEvent[]): Promise<void> {
    const behind = await consumersWithBacklog(
      tx,
      this.#consumers.map((c) => c.name),
    );
    for (const consumer of this.#consumers) {
      const mine = events.filter((e) => wants(consumer, e.type));
      if (mine.length === 0) continue;
      const sequences = mine.map((e) => e.sequence);
      // Behind its backlog: queue, so that the consumer still sees its events in order.
      if (behind.has(consumer.name)) {
        await parkEvents(tx, consumer.name, sequences, 0, null);
        continue;
      }
      try {
        await inSavepoint(tx, () => consumer.consume(tx, mine));
        this.#options.onConsumed?.(consumer.name, mine.length);
      } catch (error) {
        // Which event of the batch is at fault is unknown: the backlog tries them one by one.
        await parkEvents(tx, consumer.name, sequences, this.#backoff(1), describe(error));
        this.#options.onConsumerFailure?.({
          consumer: consumer.name,
          error,
          sequences,
          attempts: 1,
          givenUp: false,
        });
      }
    }
  }

  /** Returns whether any consumer had a backlog. */
  async #retryBacklogs(tx: Queryable): Promise<boolean> {
    const behind = await consumersWithBacklog(
      tx,
      this.#consumers.map((c) => c.name),
    );
    for (const consumer of this.#consumers) {
      if (behind.has(consumer.name)) await this.#retryBacklog(tx, consumer);
    }
    return behind.size > 0;
  }

  /** Redelivers a consumer's backlog in order, one event at a time, until one fails or is not due. */
  async #retryBacklog(tx: Queryable, consumer: EventConsumer): Promise<void> {
    const head = await backlogHead(tx, consumer.name, BACKLOG_BATCH);
    const events = new Map(
      (
        await eventsBySequence(
          tx,
          head.map((h) => h.sequence),
        )
      ).map((e) => [e.sequence, e]),
    );
    for (const entry of head) {
      if (!entry.due) return;
      const event = events.get(entry.sequence);
      try {
        // An event purged meanwhile (retention shorter than the backlog) has nothing left to give.
        if (event) await inSavepoint(tx, () => consumer.consume(tx, [event]));
        await clearBacklogEntry(tx, consumer.name, entry.sequence);
        if (event) this.#options.onConsumed?.(consumer.name, 1);
      } catch (error) {
        const attempts = entry.attempts + 1;
        const givenUp = attempts >= this.#options.maxAttempts;
        await recordBacklogFailure(tx, consumer.name, entry.sequence, {
          error: describe(error),
          delayMs: this.#backoff(attempts + 1),
          giveUp: givenUp,
        });
        this.#options.onConsumerFailure?.({
          consumer: consumer.name,
          error,
          sequences: [entry.sequence],
          attempts,
          givenUp,
        });
        if (!givenUp) return;
      }
    }
  }

  /** The wait before try number `attempt` (the first retry is attempt 1). */
  #backoff(attempt: number): number {
    return Math.min(this.#options.backoffMs * 2 ** Math.max(0, attempt - 1), MAX_BACKOFF_MS);
  }
}

function wants(consumer: EventConsumer, type: EventType): boolean {
  return consumer.types === 'all' || consumer.types.has(type);
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 2000);
}
