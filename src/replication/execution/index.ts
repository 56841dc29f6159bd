// Replication executions: planning runs as reconciliations, tasks, triggers and convergence.
export { ReplicationExecutionService, type ExecutionView } from './execution-service.js';
export { executionPolicyHooks } from './policy-hooks.js';
export type { EventPayload, ExecutionOptions, Tombstone } from './types.js';
export type {
  ExecutionStatus,
  ExecutionTrigger,
  TaskRow,
  TaskStatus,
} from '../../metadata/replication-executions-table.js';
