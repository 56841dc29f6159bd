import type { JobService } from '../jobs/job-service.js';
import { executionPolicyHooks, ReplicationExecutionService } from '../replication/execution/index.js';
import { RegistryEndpointService } from '../services/registry-endpoint-service.js';
import { endpointUsageByPolicies, ReplicationPolicyService } from '../services/replication-policy-service.js';
import type { AccessServices } from './access.js';
import { registerJobTypes } from './jobs.js';
import type { Platform } from './platform.js';
import type { RegistryServices } from './registry.js';

// Replication: remote registry endpoints, policies, and executions on the job service. The
// relations between them are given here, at construction: an endpoint a policy names cannot be
// deleted; a policy with a running execution cannot be deleted; schedules follow policy changes.

export interface ReplicationServices {
  registries: RegistryEndpointService;
  policies: ReplicationPolicyService;
  executions: ReplicationExecutionService;
}

export function buildReplication(
  { config, logger, db, outbound, secretBox, registryDeps, late }: Platform,
  { tokens, projects }: AccessServices,
  { blobs }: RegistryServices,
  jobs: JobService,
): ReplicationServices {
  const registries = new RegistryEndpointService(db, secretBox, {
    // Every connection to a peer or its token realm passes the outbound policy.
    outbound,
    tokenRealms: config.outbound.token_realms,
    usageChecks: [endpointUsageByPolicies(db)],
  });
  const policies = new ReplicationPolicyService(
    db,
    registries,
    registryDeps.lookups,
    executionPolicyHooks(db, jobs),
  );
  // Replication reaches this registry over loopback once it listens.
  const executions = new ReplicationExecutionService(
    {
      db,
      jobs,
      policies,
      registries,
      tokens,
      projects,
      blobs,
      localUrl: () => late.localUrl,
      tombstoneTtlMs: config.replication.tombstone_days * 86_400_000,
      onError: (err, context) => logger.warn({ err, context }, 'replication'),
    },
    {
      deadlineMs: config.replication.retry_deadline_hours * 3_600_000,
      backoffBaseMs: config.replication.retry_backoff_seconds * 1_000,
      backoffMaxMs: config.replication.retry_backoff_max_seconds * 1_000,
    },
  );
  registerJobTypes(jobs, executions.jobTypes());
  return { registries, policies, executions };
}
