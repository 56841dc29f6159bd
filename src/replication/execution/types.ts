import type { JobService } from '../../jobs/job-service.js';
import type { Database } from '../../metadata/database.js';
import type { ProjectService } from '../../services/project-service.js';
import type { BlobService } from '../../services/registry/blob-service.js';
import type { ReplicationPolicyService } from '../../services/replication-policy-service.js';
import type { RegistryEndpointService } from '../../services/registry-endpoint-service.js';
import type { TokenService } from '../../services/token-service.js';

// What the execution module is built from, its job types and their payloads.

export const EXECUTION_JOB = 'replication-execution';
export const TASK_JOB = 'replication-task';
export const EVENT_JOB = 'replication-event';

/** Plans one execution; a schedule's job names only the policy (its execution is made on the first run). */
export type ExecutionPayload = { executionId: number } | { policyId: number };
export interface TaskPayload {
  taskId: number;
}
/** A manifest push or delete in this registry, by a client (not by replication itself). */
export interface EventPayload {
  repository: string;
  /** Null for an operation by digest. */
  tag: string | null;
  operation: 'create' | 'delete';
}

export interface ExecutionOptions {
  /** How long retryable failures (the peer unreachable) are retried (default 24 h). */
  deadlineMs?: number;
  /** First retry delay, doubled each time up to backoffMaxMs (defaults 2 s and 60 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Tasks one instance runs at once (default: the job service's max_job_workers). */
  taskConcurrency?: number;
}

/** A tombstone's life: how long a deletion beats older pushes elsewhere, then it is purged. */
export const TOMBSTONE_TTL_MS = 7 * 24 * 3_600_000;

export interface ExecutionDeps {
  db: Database;
  jobs: JobService;
  policies: ReplicationPolicyService;
  registries: RegistryEndpointService;
  tokens: TokenService;
  /** This registry's projects, for the destination projects replication makes here. */
  projects: Pick<ProjectService, 'find' | 'ensureForReplication'>;
  /** This registry's blobs, read straight from storage by replication's copies. */
  blobs?: Pick<BlobService, 'readFrom'>;
  /** This instance's own loopback URL; known once the server listens. */
  localUrl: () => string;
  /** How long tombstones count (default 7 days, TOMBSTONE_TTL_MS). */
  tombstoneTtlMs?: number;
  onError?: (err: unknown, context: string) => void;
}

export const EXECUTION_DEFAULTS = {
  deadlineMs: 24 * 3_600_000,
  backoffBaseMs: 2_000,
  backoffMaxMs: 60_000,
  tombstoneTtlMs: TOMBSTONE_TTL_MS,
} as const;
