import { JobService } from '../jobs/job-service.js';
import type { JobTypeDefinition } from '../jobs/queue.js';
import type { AuditService } from '../services/audit-service.js';
import { BackgroundTasks } from '../services/background-tasks.js';
import { purgeStaleUploads } from '../services/registry/upload-janitor.js';
import type { Platform } from './platform.js';

// The durable job service (src/jobs), whose job types the features own and the builder registers,
// and the per-instance background tasks (stale uploads, audit retention).

export interface JobServices {
  jobs: JobService;
  background: BackgroundTasks;
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
  if (config.audit.retention_days > 0) {
    background.add({
      name: 'purge-audit-log',
      intervalMs: 10 * 60_000,
      run: () => audit.purgeOlderThan(config.audit.retention_days),
    });
  }
  const jobs = new JobService({
    db,
    instanceName,
    maxJobWorkers: config.jobservice.max_job_workers,
    onError: (err, context) => logger.warn({ err, context }, 'job service'),
  });
  return { jobs, background };
}

export function registerJobTypes(jobs: JobService, types: readonly JobTypeDefinition[]): void {
  for (const { type, handler, options } of types) jobs.register(type, handler, options);
}
