import type { EventPayload } from './types.js';

// An event whose job could not be written (the database away for a moment, after the client's
// write itself succeeded) is not dropped: this process keeps it and writes it again every few
// seconds until it goes in or an hour has passed. Bounded: past `maxPending` the oldest is given
// up (and said so). What a process dies with is left, as before, to the next reconciliation.

export interface PendingEventsOptions {
  maxPending?: number;
  retryEveryMs?: number;
  giveUpAfterMs?: number;
}

export class PendingEvents {
  readonly #write: (event: EventPayload) => Promise<void>;
  readonly #report: (message: string, err?: unknown) => void;
  readonly #maxPending: number;
  readonly #retryEveryMs: number;
  readonly #giveUpAfterMs: number;
  readonly #pending: Array<{ event: EventPayload; since: number }> = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(
    write: (event: EventPayload) => Promise<void>,
    report: (message: string, err?: unknown) => void,
    options: PendingEventsOptions = {},
  ) {
    this.#write = write;
    this.#report = report;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#retryEveryMs = options.retryEveryMs ?? 2_000;
    this.#giveUpAfterMs = options.giveUpAfterMs ?? 3_600_000;
  }

  get size(): number {
    return this.#pending.length;
  }

  add(event: EventPayload): void {
    if (this.#pending.length >= this.#maxPending) {
      const dropped = this.#pending.shift();
      if (dropped)
        this.#report(`replication event of ${dropped.event.repository} given up: too many pending`);
    }
    this.#pending.push({ event, since: Date.now() });
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.flush(), this.#retryEveryMs);
      this.#timer.unref();
    }
  }

  /** Writes what is pending, in order; stops at the first failure (the database is still away). */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #flushOnce(): Promise<void> {
    while (this.#pending.length > 0) {
      const first = this.#pending[0];
      if (!first) break;
      if (Date.now() - first.since > this.#giveUpAfterMs) {
        this.#pending.shift();
        this.#report(`replication event of ${first.event.repository} given up after an hour of failures`);
        continue;
      }
      try {
        await this.#write(first.event);
      } catch (err) {
        this.#report(`replication event of ${first.event.repository} still not written`, err);
        return;
      }
      this.#pending.shift();
    }
    this.close();
  }
}
