import type { EventType, RecordedEvent } from '../../domain/events.js';
import type { Queryable } from '../../metadata/database.js';
import {
  insertAuditEntries,
  tagEventsCoveredByArtifactEvents,
  type AuditEntry,
} from '../../metadata/audit-table.js';
import type { EventConsumer } from '../events/consumer.js';
import { AUDITED_TYPES, auditEntryOf } from './describe.js';
import type { SyslogForwarder } from './syslog-forwarder.js';

// The audit log as an outbox consumer: each audited event becomes one entry, written in the
// dispatcher's transaction and keyed by the event id (a redelivered event adds nothing), then
// handed to the syslog forwarder when one is configured. A tag event that came with an artifact
// event of the same write (a push by tag, a delete with its tags) is not entered twice.

export interface AuditConsumerOptions {
  /** Record `artifact.pulled` (audit.log_pulls). */
  logPulls: boolean;
  /** Forward only (Harbor's skip_audit_log_database; meaningful with a forwarder). */
  skipDatabase: boolean;
  forwarder: SyslogForwarder | null;
}

export function auditConsumer(options: AuditConsumerOptions): EventConsumer {
  const types = new Set<EventType>(
    [...AUDITED_TYPES].filter((t) => options.logPulls || t !== 'artifact.pulled'),
  );
  return {
    name: 'audit',
    types,
    async consume(tx: Queryable, events: readonly RecordedEvent[]): Promise<void> {
      const entries = await auditEntries(tx, events);
      if (!options.skipDatabase) await insertAuditEntries(tx, entries);
      options.forwarder?.forward(entries);
    },
  };
}

async function auditEntries(tx: Queryable, events: readonly RecordedEvent[]): Promise<AuditEntry[]> {
  const tagEvents = events
    .filter((e) => e.type === 'tag.created' || e.type === 'tag.deleted')
    .map((e) => e.id);
  const covered = await tagEventsCoveredByArtifactEvents(tx, tagEvents);
  return events
    .filter((e) => !covered.has(e.id))
    .map(auditEntryOf)
    .filter((e): e is AuditEntry => e !== null);
}
