import type { Database } from '../metadata/database.js';
import {
  listAuditEntries,
  purgeAuditEntriesOf,
  type AuditFilter,
  type AuditRow,
} from '../metadata/audit-table.js';
import type { OutboundGuard } from '../net/outbound-guard.js';

export type { AuditFilter, AuditRow } from '../metadata/audit-table.js';
import { auditConsumer } from './audit/audit-consumer.js';
import { auditEventTypeNames } from './audit/describe.js';
import { SyslogForwarder } from './audit/syslog-forwarder.js';
import type { EventConsumer } from './events/consumer.js';

// The audit log: who did what to which object, when, and whether it succeeded. Entries are made
// from the outbox (audit/audit-consumer.ts): the services record their changes as events in the
// change's own transaction, so an entry exists exactly when its change does. They may be
// forwarded to a syslog receiver (audit/syslog-forwarder.ts); reads go through here.

export interface AuditSettings {
  /** Record pulls (audit.log_pulls). */
  logPulls: boolean;
  /** `host:port` of a syslog receiver (audit.forward_endpoint), or empty. */
  forwardEndpoint: string;
  /** With a forward endpoint: forward only, write no rows (audit.skip_database). */
  skipDatabase: boolean;
}

export class AuditService {
  /** The outbox consumer that writes (and forwards) the entries; give it to the dispatcher. */
  readonly consumer: EventConsumer;
  readonly forwarder: SyslogForwarder | null;

  constructor(
    private readonly db: Database,
    settings: AuditSettings,
    outbound: OutboundGuard,
    onForwardError: (err: unknown) => void,
  ) {
    this.forwarder = settings.forwardEndpoint
      ? new SyslogForwarder({ endpoint: settings.forwardEndpoint, guard: outbound, onError: onForwardError })
      : null;
    this.consumer = auditConsumer({
      logPulls: settings.logPulls,
      skipDatabase: settings.skipDatabase && this.forwarder !== null,
      forwarder: this.forwarder,
    });
  }

  /** One page of entries, newest first unless asked otherwise, with the total matching. */
  list(
    filter: AuditFilter,
    offset: number,
    limit: number,
    order: { oldestFirst?: boolean } = {},
  ): Promise<{ items: AuditRow[]; total: number }> {
    return listAuditEntries(this.db, filter, offset, limit, order.oldestFirst ?? false);
  }

  /** Harbor's event types (`create_artifact`, `login_user`, ...) the log records. */
  eventTypes(): string[] {
    return auditEventTypeNames();
  }

  /**
   * Deletes (or, dry, counts) the entries older than `before` of the given event types
   * (create_artifact ...) or operations (create, delete, pull ...): the audit purge job's work.
   */
  async purge(
    filter: { before: Date; eventTypes: readonly string[]; operations: readonly string[] },
    options: { dryRun: boolean; onBatch?: (purged: number) => void },
  ): Promise<number> {
    return purgeAuditEntriesOf(this.db, filter, options);
  }

  /** Stops forwarding (after the dispatcher has stopped: nothing more comes). */
  async close(): Promise<void> {
    await this.forwarder?.close();
  }
}
