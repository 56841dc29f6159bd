import { JobService } from '../jobs/job-service.js';
import type { JobTypeDefinition } from '../jobs/queue.js';
import type { AuditService } from '../services/audit-service.js';
import { BackgroundTasks } from '../services/background-tasks.js';
import { purgeAuditJobType, purgeAuditKind } from '../services/maintenance/audit-purge.js';
import { MaintenanceJobs } from '../services/maintenance/maintenance-jobs.js';
import { gcKind } from '../services/maintenance/gc-maintenance.js';
import { purgeStaleUploads } from '../services/registry/upload-janitor.js';
import type { Platform } from './platform.js';

// The durable job service (src/jobs), whose job types the features own and the builder registers,
// the per-instance background tasks (stale uploads), and the system maintenance jobs of Harbor's
// /system API (audit purge here; garbage collection where its feature is built).

export interface JobServices {
  jobs: JobService;
  background: BackgroundTasks;
  /** /system/purgeaudit: the audit log purge, its history and schedule. */
  purgeAudit: MaintenanceJobs;
  /** /system/gc: garbage collection's history and schedule (its job type: wiring/gc.ts). */
  gc: MaintenanceJobs;
}

export function buildJobs(
  { config, logger, db, instanceName, registryDeps }: Platform,
  audit: AuditService,
): JobServices {
  const background = new BackgroundTasks((task, err) => logger.warn({ err, task }, 'background task failed'));
  const expireMs = config.uploads.expire_after_hours * 3_600_000;
  background.add({
    name: 'purge-stale-uploads',
    intervalMs: Math.min(expireMs, 10 * 60_000),
    run: () => purgeStaleUploads(registryDeps, expireMs),
  });
  const jobs = new JobService({
    db,
    instanceName,
    maxJobWorkers: config.jobservice.max_job_workers,
    onError: (err, context) => logger.warn({ err, context }, 'job service'),
  });
  const purgeAudit = new MaintenanceJobs(db, jobs, purgeAuditKind);
  registerJobTypes(jobs, [purgeAudit.jobType(purgeAuditJobType(audit))]);
  const gc = new MaintenanceJobs(db, jobs, gcKind);
  return { jobs, background, purgeAudit, gc };
}

/**
 * audit.retention_days as the audit purge's schedule (hourly, every event type), unless an
 * administrator set or removed the schedule through /system/purgeaudit/schedule.
 */
export async function applyConfiguredSchedules(
  { config }: Platform,
  audit: AuditService,
  { purgeAudit }: JobServices,
): Promise<void> {
  const days = config.audit.retention_days;
  await purgeAudit.applyConfigSchedule(
    days > 0
      ? {
          type: 'Hourly',
          cron: '0 0 * * * *',
          parameters: {
            audit_retention_hour: days * 24,
            include_event_types: audit.eventTypes().join(','),
            dry_run: false,
          },
        }
      : null,
  );
}

export function registerJobTypes(jobs: JobService, types: readonly JobTypeDefinition[]): void {
  for (const { type, handler, options } of types) jobs.register(type, handler, options);
}
