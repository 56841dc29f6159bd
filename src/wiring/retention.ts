import type { JobService } from '../jobs/job-service.js';
import { createRetention, type RetentionModule } from '../services/retention/index.js';
import type { AccessServices } from './access.js';
import { registerJobTypes } from './jobs.js';
import type { Platform } from './platform.js';
import type { RegistryServices } from './registry.js';

// Tag retention: policies, and executions whose per-repository tasks run on the job service and
// delete through the artifact core. Its job types (the scheduled trigger, the task) are registered
// here.

export function buildRetention(
  { db }: Platform,
  { projects }: AccessServices,
  { artifacts }: RegistryServices,
  jobs: JobService,
): RetentionModule {
  const retention = createRetention({ db, projects, jobs, artifacts });
  registerJobTypes(jobs, retention.executions.jobTypes());
  return retention;
}
