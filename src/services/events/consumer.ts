import type { EventType, RecordedEvent } from '../../domain/events.js';
import type { Queryable } from '../../metadata/database.js';

/**
 * A subscriber to the outbox. `consume` runs inside the dispatcher's transaction, the one that
 * marks the events dispatched: it writes rows (an audit entry, a durable job, a webhook delivery)
 * and never does I/O outside the database, so a consumer's effect is committed exactly when the
 * events are marked. Outside effects (an HTTP delivery) are jobs it enqueues with `tx`.
 */
export interface EventConsumer {
  /** Named in logs and metrics. */
  readonly name: string;
  /** The event types this consumer wants; the others are not given to it. */
  readonly types: ReadonlySet<EventType> | 'all';
  consume(tx: Queryable, events: readonly RecordedEvent[]): Promise<void>;
}
