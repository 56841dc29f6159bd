import { isEventOfType, type EventType, type RecordedEvent } from '../../domain/events.js';
import type { EventConsumer } from '../../services/events/consumer.js';
import { SYSTEM_REPLICATION_SUBJECT } from '../../services/token-service.js';
import { enqueueEvent, type EventTriggerDeps } from './events.js';
import type { EventPayload } from './types.js';

// Event-based replication as an outbox consumer: each content change becomes the durable job that
// events.ts runs (one reconciliation of the repository per matching policy), written in the
// dispatcher's transaction, so a change committed is a change replicated even if its instance dies
// right after. Writes made by replication itself start nothing (no loops between two-way peers).

const TYPES: ReadonlySet<EventType> = new Set<EventType>([
  'artifact.pushed',
  'artifact.deleted',
  'tag.created',
  'tag.deleted',
  'repository.deleted',
]);

export function replicationEventConsumer(deps: EventTriggerDeps): EventConsumer {
  return {
    name: 'replication',
    types: TYPES,
    async consume(tx, events) {
      // One job per distinct change in the batch: a push by tag records both artifact.pushed
      // and tag.created, and the job reconciles the whole repository anyway.
      const payloads = new Map<string, EventPayload>();
      for (const event of events) {
        if (isReplicationItself(event)) continue;
        for (const payload of payloadsOf(event)) payloads.set(JSON.stringify(payload), payload);
      }
      for (const payload of payloads.values()) await enqueueEvent(deps, payload, tx);
    },
  };
}

/**
 * This registry's replication writes with its system token, whose subject no account can have
 * (user names admit no ':'): its events are no client's.
 */
function isReplicationItself(event: RecordedEvent): boolean {
  return event.actor.name === SYSTEM_REPLICATION_SUBJECT && event.actor.kind !== 'robot';
}

/** The trigger payloads of an event: per tag when it names tags, else one for the repository. */
function payloadsOf(event: RecordedEvent): EventPayload[] {
  const of = (repository: string, tags: readonly string[], operation: EventPayload['operation']) =>
    tags.length === 0
      ? [{ repository, tag: null, operation }]
      : tags.map((tag) => ({ repository, tag, operation }));
  if (isEventOfType(event, 'artifact.pushed')) return of(event.data.repository, event.data.tags, 'create');
  if (isEventOfType(event, 'artifact.deleted')) return of(event.data.repository, event.data.tags, 'delete');
  if (isEventOfType(event, 'tag.created')) return of(event.data.repository, [event.data.tag], 'create');
  if (isEventOfType(event, 'tag.deleted')) return of(event.data.repository, [event.data.tag], 'delete');
  if (isEventOfType(event, 'repository.deleted')) return of(event.data.repository, [], 'delete');
  return [];
}
