import client from 'prom-client';
import type { Logger } from 'pino';
import type { WharfConfig } from '../config/schema.js';
import type { Database } from '../metadata/database.js';
import { outboxLag } from '../metadata/outbox-table.js';
import type { EventConsumer } from '../services/events/consumer.js';
import { EventDispatcher, type ConsumerFailure } from '../services/events/dispatcher.js';

// The composition root's part of event dispatch: the dispatcher built from `events.*`, its
// failures logged, and its metrics (events consumed and failed per consumer, outbox lag).

export function createEventDispatcher(
  config: WharfConfig,
  logger: Logger,
  db: Database,
  consumers: readonly EventConsumer[],
  registry: client.Registry,
  onCommitted: () => void,
): EventDispatcher {
  const consumed = new client.Counter({
    name: 'wharf_events_consumed_total',
    help: 'Outbox events taken by each consumer',
    labelNames: ['consumer'] as const,
    registers: [registry],
  });
  const failures = new client.Counter({
    name: 'wharf_event_consumer_failures_total',
    help: 'Failed deliveries of outbox events to a consumer; given_up="true": no further tries',
    labelNames: ['consumer', 'given_up'] as const,
    registers: [registry],
  });
  new client.Gauge({
    name: 'wharf_events_undispatched',
    help: 'Outbox events not yet dispatched (cluster-wide)',
    registers: [registry],
    async collect() {
      this.set((await outboxLag(db)).undispatched);
    },
  });
  const onConsumerFailure = (f: ConsumerFailure) => {
    failures.inc({ consumer: f.consumer, given_up: String(f.givenUp) });
    const context = { err: f.error, consumer: f.consumer, sequences: f.sequences, attempts: f.attempts };
    if (f.givenUp) logger.error(context, 'event consumer gave up on an event after its last attempt');
    else logger.warn(context, 'event consumer failed; its events are retried with backoff');
  };
  return new EventDispatcher(db, consumers, {
    maxAttempts: config.events.max_attempts,
    backoffMs: config.events.retry_backoff_seconds * 1000,
    retentionMs: config.events.retention_hours * 3_600_000,
    onCommitted,
    onConsumed: (consumer, count) => consumed.inc({ consumer }, count),
    onConsumerFailure,
    onError: (err) => logger.warn({ err }, 'event dispatch failed; retrying at the next poll'),
  });
}
