import type { JobService } from '../../jobs/job-service.js';
import type { JobContext } from '../../jobs/queue.js';
import type { TaskRow } from '../../metadata/replication-executions-table.js';
import type {
  ReplicationPolicy,
  ReplicationPolicyService,
} from '../../services/replication-policy-service.js';
import type { Side, SideDeps } from './sides.js';

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

/** Two-way replication's record of a tag deleted at `deletedAt` while it pointed at `digest`. */
export interface Tombstone {
  repository: string;
  tag: string;
  digest: string;
  deletedAt: Date;
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

/** What the sides need (sides.ts), and the job service and policies. */
export interface ExecutionDeps extends SideDeps {
  jobs: JobService;
  policies: ReplicationPolicyService;
  onError?: (err: unknown, context: string) => void;
}

/** One task's work (copy-task.ts, deletion-task.ts): the task, its policy and both sides. */
export interface TaskWork {
  task: TaskRow;
  policy: ReplicationPolicy;
  source: Side;
  destination: Side;
  job: JobContext;
  tombstoneTtlMs: number;
}

export const EXECUTION_DEFAULTS = {
  deadlineMs: 24 * 3_600_000,
  backoffBaseMs: 2_000,
  backoffMaxMs: 60_000,
  tombstoneTtlMs: TOMBSTONE_TTL_MS,
} as const;
