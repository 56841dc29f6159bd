import type { JobTypeDefinition } from '../../jobs/queue.js';
import type { AuditService } from '../audit-service.js';
import { ServiceError } from '../service-error.js';
import type { MaintenanceKind } from './maintenance-jobs.js';

// Harbor's audit log purge (/system/purgeaudit): a maintenance job that deletes the audit entries
// older than audit_retention_hour whose event type (create_artifact, ...) or operation (create,
// delete, pull ...) is in include_event_types; a dry run only counts them. Harbor's older clients
// send include_operations instead; both are read. An empty list or a retention of 0 or -1 purges
// nothing, as Harbor.

export const PURGE_AUDIT_JOB_TYPE = 'PURGE_AUDIT_LOG';

/** A hundred years: anything longer is a typing mistake, not a retention. */
const MAX_RETENTION_HOURS = 876_000;

export interface PurgeAuditParameters {
  audit_retention_hour: number;
  /** Comma-separated, as Harbor stores it. */
  include_event_types: string;
  dry_run: boolean;
}

function invalid(message: string): never {
  throw new ServiceError('invalid', message);
}

function retentionHours(raw: unknown): number {
  if (raw === undefined || raw === null) return 0;
  const n = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -1 || n > MAX_RETENTION_HOURS) {
    invalid(`audit_retention_hour must be an integer from -1 to ${MAX_RETENTION_HOURS}`);
  }
  return n;
}

function eventTypeList(raw: unknown, name: string): string[] {
  if (raw === undefined || raw === null || raw === '') return [];
  const items =
    typeof raw === 'string'
      ? raw.split(',')
      : Array.isArray(raw)
        ? raw
        : invalid(`${name} must be a comma-separated list`);
  // A stray comma ("a,b,") names nothing; anything else must look like a type or an operation.
  const names = items
    .map((item) => (typeof item === 'string' ? item.trim().toLowerCase() : String(item)))
    .filter((item) => item !== '');
  for (const item of names) {
    if (!/^[a-z][a-z_]{0,63}$/.test(item))
      invalid(`${name}: "${String(item)}" is no audit event type or operation`);
  }
  return [...new Set(names)];
}

function dryRun(raw: unknown): boolean {
  if (raw === undefined || raw === null) return false;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (typeof raw !== 'boolean') invalid('dry_run must be true or false');
  return raw;
}

/** The job's payload from the API's parameters (also the payloads of runs already queued). */
export function purgeAuditParameters(raw: Record<string, unknown>): PurgeAuditParameters {
  const types = [
    ...eventTypeList(raw.include_event_types, 'include_event_types'),
    ...eventTypeList(raw.include_operations, 'include_operations'),
  ];
  return {
    audit_retention_hour: retentionHours(raw.audit_retention_hour),
    include_event_types: [...new Set(types)].join(','),
    dry_run: dryRun(raw.dry_run),
  };
}

export const purgeAuditKind: MaintenanceKind = {
  type: PURGE_AUDIT_JOB_TYPE,
  noun: 'audit log purge',
  parameters: (raw) => ({ ...purgeAuditParameters(raw) }),
};

function payloadOf(payload: unknown): PurgeAuditParameters {
  const raw = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  return purgeAuditParameters(raw);
}

/** The purge job type; `now` is the clock the retention counts from (the database's, in tests a fixed one). */
export function purgeAuditJobType(
  audit: AuditService,
  now: () => Date = () => new Date(),
): JobTypeDefinition {
  return {
    type: PURGE_AUDIT_JOB_TYPE,
    // One attempt as Harbor's; a failed purge is redone by the next run, which finds the same rows.
    options: { maxAttempts: 1, concurrency: 1 },
    handler: async (job) => {
      const p = payloadOf(job.payload);
      job.log(
        `audit_retention_hour=${p.audit_retention_hour} include_event_types=${p.include_event_types || '(none)'} dry_run=${p.dry_run}`,
      );
      const names = p.include_event_types ? p.include_event_types.split(',') : [];
      if (p.audit_retention_hour <= 0 || names.length === 0) {
        return `nothing to purge: ${p.audit_retention_hour <= 0 ? 'no retention set' : 'no event types included'}`;
      }
      const before = new Date(now().getTime() - p.audit_retention_hour * 3_600_000);
      job.log(`purging entries older than ${before.toISOString()}`);
      const purged = await audit.purge(
        {
          before,
          eventTypes: names.filter((n) => n.includes('_')),
          operations: names.filter((n) => !n.includes('_')),
        },
        {
          dryRun: p.dry_run,
          onBatch: () => {
            if (job.signal.aborted) throw new Error('stopped on request');
          },
        },
      );
      return p.dry_run
        ? `[DRYRUN] ${purged} audit log entries would be purged`
        : `purged ${purged} audit log entries`;
    },
  };
}
