// Replication executions: planning runs as reconciliations, tasks, triggers and convergence.
export { ReplicationExecutionService, type ExecutionView } from './execution-service.js';
export type { EventPayload, ExecutionOptions } from './types.js';
