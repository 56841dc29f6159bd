// What happened to content and to the things around it, as recorded in the outbox
// (metadata/outbox-table.ts) in the same transaction as the change itself. Consumers (audit, pull
// statistics, replication triggers, webhooks) read these; an event's id is the key a consumer
// deduplicates on, because delivery is at least once.

/** Who did it. `system` is Wharf itself (replication, retention, GC). */
export interface EventActor {
  name: string;
  kind: 'user' | 'robot' | 'anonymous' | 'system';
  clientIp: string | null;
}

export interface ArtifactEventData {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  /** The tags the artifact had (deleted) or was given (pushed) by this change. */
  tags: string[];
}

/**
 * Each event type and what it carries. Features add their types here (a project change, a member
 * change, a quota warning) as they start recording them.
 */
export interface EventDataByType {
  'artifact.pushed': ArtifactEventData;
  'artifact.deleted': ArtifactEventData;
  /** Pulls are recorded in batches: `count` pulls of one digest since the last batch. */
  'artifact.pulled': { repository: string; digest: string; tag: string | null; count: number };
  'tag.created': { repository: string; tag: string; digest: string };
  'tag.deleted': { repository: string; tag: string; digest: string | null };
  'repository.deleted': { repository: string };
}

export type EventType = keyof EventDataByType;

/** An event as a writer records it. */
export interface NewEvent<T extends EventType = EventType> {
  type: T;
  actor: EventActor;
  /** The project the event belongs to (null for system-wide events). */
  projectName: string | null;
  data: EventDataByType[T];
}

/** An event as the outbox holds it. */
export type RecordedEvent<T extends EventType = EventType> = NewEvent<T> & {
  /** The deduplication key: the same for every delivery of this event. */
  id: string;
  /** Commit-independent order of recording; consumers order by it within a key. */
  sequence: number;
  occurredAt: Date;
};

export function isEventOfType<T extends EventType>(event: RecordedEvent, type: T): event is RecordedEvent<T> {
  return event.type === type;
}
