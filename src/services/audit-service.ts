import type { Database } from '../metadata/database.js';
import { insertAuditEntries, purgeAuditEntries, type AuditEntry } from '../metadata/audit-table.js';

// The audit log: who did what to which resource, when. Changes (push, delete, user, project,
// member, robot, login) are written before the request answers. Pulls are the one high-volume
// event: they are batched and written at most a second later, so a crashed instance can lose
// the last second of pull records — never a change record. Pull auditing can be switched off.

const PULL_FLUSH_MS = 1000;
const PULL_BATCH = 500;

export class AuditService {
  private pending: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly options: { auditPulls: boolean },
    private readonly onError: (err: unknown) => void,
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    await insertAuditEntries(this.db, [{ ...entry, time: entry.time ?? new Date() }]);
  }

  /** Records a pull without waiting for the database (see the class comment). */
  recordPull(entry: Omit<AuditEntry, 'operation'>): void {
    if (!this.options.auditPulls) return;
    this.pending.push({ ...entry, operation: 'pull', time: new Date() });
    if (this.pending.length >= PULL_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), PULL_FLUSH_MS);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    try {
      await insertAuditEntries(this.db, batch);
    } catch (err) {
      this.onError(err);
    }
  }

  /** Deletes entries older than `days`; returns how many. */
  async purgeOlderThan(days: number): Promise<number> {
    return purgeAuditEntries(this.db, new Date(Date.now() - days * 86_400_000));
  }
}
