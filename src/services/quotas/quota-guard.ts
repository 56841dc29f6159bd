import type { EventActor, NewEvent } from '../../domain/events.js';
import {
  crossesWarning,
  exceedsLimit,
  QuotaExceededError,
  warningMessage,
  type QuotaRefusal,
} from '../../domain/quota.js';
import type { Queryable } from '../../metadata/database.js';
import { recordEvent } from '../../metadata/outbox-table.js';
import { bytesNewToProject, lockLimitedQuota } from '../../metadata/quotas-table.js';

// The storage quota's check in the one write path: every write that links bytes to a repository
// (upload commit, mount, manifest PUT; replication's writes arrive through them) calls
// requireQuotaRoom in its transaction, after it holds the blobs' GC lock and before it links them.
// The check locks the project's quota row, so concurrent writes into one project are decided one
// after the other against the usage the previous one committed: together they cannot overshoot
// the limit. The count itself is kept by the database's triggers on the links (migration 020).

/** What a write is about to link, and what to name in its events. */
export interface QuotaCharge {
  repository: string;
  blobs: ReadonlyArray<{ digest: string; size: number }>;
  /** The manifest (its digest and tag) for a manifest PUT; null for a blob write. */
  digest?: string | null;
  tag?: string | null;
  /** Who writes (the events' operator); absent for a write nobody asked for by name. */
  actor?: EventActor;
}

/** The operator of events whose write did not say who asked for it. */
const UNNAMED: EventActor = { name: '', kind: 'anonymous', clientIp: null };

/**
 * Refuses the write (QuotaExceededError, DENIED) when the bytes new to the project would take it
 * over its limit; records QUOTA_WARNING in the write's transaction when they reach 85% of it.
 */
export async function requireQuotaRoom(tx: Queryable, charge: QuotaCharge): Promise<void> {
  const quota = await lockLimitedQuota(tx, charge.repository);
  if (!quota) return;
  const adding = await bytesNewToProject(tx, quota.projectId, charge.blobs);
  const facts: QuotaRefusal = {
    project: quota.project,
    repository: charge.repository,
    digest: charge.digest ?? null,
    tag: charge.tag ?? null,
    hard: quota.hard,
    used: quota.used,
    adding,
  };
  if (exceedsLimit(quota.hard, quota.used, adding)) throw new QuotaExceededError(facts, charge.actor);
  if (crossesWarning(quota.hard, quota.used, adding)) {
    const message = warningMessage(quota.hard, quota.used + adding);
    await recordEvent(tx, quotaEvent('quota.warning', facts, message, charge.actor));
  }
}

/**
 * For a write's `.catch`: a quota refusal is recorded (QUOTA_EXCEED) once the write's own
 * transaction has rolled back, then the error goes on to the caller unchanged.
 */
export function recordQuotaRefusal(db: Queryable): (err: unknown) => Promise<never> {
  return async (err: unknown) => {
    if (err instanceof QuotaExceededError) {
      // The client is told of the refusal even when the database fails to take its event.
      const event = quotaEvent('quota.exceeded', err.refusal, err.message, err.actor);
      await recordEvent(db, event).catch(() => undefined);
    }
    throw err;
  };
}

function quotaEvent(
  type: 'quota.exceeded' | 'quota.warning',
  facts: QuotaRefusal,
  message: string,
  actor: EventActor | undefined,
): NewEvent {
  return {
    type,
    actor: actor ?? UNNAMED,
    projectName: facts.project,
    data: {
      repository: facts.repository,
      digest: facts.digest,
      tag: facts.tag,
      message,
      hard: facts.hard,
      used: facts.used,
    },
  };
}
