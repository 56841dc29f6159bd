import type { JobService } from '../../jobs/job-service.js';
import { hasRunningExecution } from '../../metadata/replication-executions-table.js';
import type { Database } from '../../metadata/database.js';
import type { PolicyHooks, ReplicationPolicy } from '../../services/replication-policy-service.js';
import { EXECUTION_JOB } from './types.js';

// What executions tell the policy service, given to it at construction (src/wiring/replication.ts):
// a policy with a running execution cannot be deleted, and a scheduled trigger is a job-service
// schedule of the policy that follows each change (none while the policy is disabled).

export function executionPolicyHooks(db: Database, jobs: JobService): PolicyHooks {
  return {
    runningChecks: [(policyId) => hasRunningExecution(db, policyId)],
    changeListeners: [(change) => syncPolicySchedule(jobs, change.id, change.policy)],
  };
}

/** Saves, keeps or removes the policy's schedule to match it (idempotent). */
export async function syncPolicySchedule(
  jobs: JobService,
  policyId: number,
  policy: ReplicationPolicy | null,
): Promise<void> {
  if (policy?.enabled && policy.trigger.type === 'scheduled' && policy.trigger.cron !== '') {
    const current = await jobs.schedule(EXECUTION_JOB, policyId);
    if (current?.cron === policy.trigger.cron) return;
    await jobs.saveSchedule({
      type: EXECUTION_JOB,
      vendorId: policyId,
      cron: policy.trigger.cron,
      payload: { policyId },
    });
  } else {
    await jobs.removeSchedule(EXECUTION_JOB, policyId);
  }
}
