import type { FastifyInstance } from 'fastify';
import type {
  ExecutionStatus,
  ExecutionTrigger,
  TaskRow,
  TaskStatus,
} from '../../../metadata/replication-executions-table.js';
import type { ExecutionView, ReplicationExecutionService } from '../../../replication/execution/index.js';
import { ApiError } from '../api-error.js';
import { objectBody, pathId } from '../body.js';
import { pageRequest, setPageHeaders } from '../paging.js';

// /api/v2.0/replication/executions in Harbor's shapes (ReplicationExecution, ReplicationTask,
// StartReplicationExecution): start (201 + Location), list (policy_id, status, trigger, paging),
// one execution, stop (PUT), its tasks (status filter, paging) and a task's log (text/plain).

const EXECUTION_STATUSES: readonly ExecutionStatus[] = ['InProgress', 'Succeed', 'Failed', 'Stopped'];
const TASK_STATUSES: readonly TaskStatus[] = ['Pending', 'InProgress', 'Succeed', 'Failed', 'Stopped'];
const TRIGGERS: readonly ExecutionTrigger[] = ['manual', 'scheduled', 'event_based'];

function executionJson({ execution: e, counts }: ExecutionView) {
  return {
    id: e.id,
    policy_id: e.policy_id,
    status: e.status,
    status_text: e.status_text,
    trigger: e.trigger,
    total: counts.total,
    failed: counts.failed,
    succeed: counts.succeed,
    in_progress: counts.in_progress,
    stopped: counts.stopped,
    start_time: e.start_time.toISOString(),
    end_time: e.end_time?.toISOString() ?? null,
  };
}

function taskJson(t: TaskRow) {
  return {
    id: t.id,
    execution_id: t.execution_id,
    resource_type: t.resource_type,
    src_resource: `${t.src_repository}:${t.tag}`,
    dst_resource: `${t.dst_repository}:${t.tag}`,
    operation: t.operation,
    status: t.status,
    job_id: t.job_id === null ? '' : String(t.job_id),
    start_time: t.start_time?.toISOString() ?? null,
    end_time: t.end_time?.toISOString() ?? null,
  };
}

function oneOf<T extends string>(
  query: Record<string, unknown>,
  field: string,
  allowed: readonly T[],
): T | undefined {
  const value = query[field];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ApiError('BAD_REQUEST', `${field} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function policyIdOf(value: unknown, field: string): number {
  const id = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new ApiError('BAD_REQUEST', `${field} must be a positive integer policy id`);
  }
  return id;
}

export function registerReplicationExecutionRoutes(
  api: FastifyInstance,
  executions: ReplicationExecutionService,
): void {
  api.post('/replication/executions', async (request, reply) => {
    // Permissions first: a caller who may not see executions learns nothing from ids and bodies.
    executions.requireAdmin(request.principal);
    const body = objectBody(request.body);
    const id = await executions.start(request.principal, policyIdOf(body.policy_id, 'policy_id'));
    reply.code(201).header('location', `/api/v2.0/replication/executions/${id}`).send();
  });

  api.get('/replication/executions', async (request, reply) => {
    executions.requireAdmin(request.principal);
    const query = (request.query ?? {}) as Record<string, unknown>;
    const page = pageRequest(query);
    const policyId =
      query.policy_id === undefined || query.policy_id === ''
        ? undefined
        : policyIdOf(query.policy_id, 'policy_id');
    const status = oneOf(query, 'status', EXECUTION_STATUSES);
    const trigger = oneOf(query, 'trigger', TRIGGERS);
    const { items, total } = await executions.list(
      request.principal,
      {
        ...(policyId !== undefined && { policyId }),
        ...(status !== undefined && { status }),
        ...(trigger !== undefined && { trigger }),
      },
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(executionJson));
  });

  api.get('/replication/executions/:id', async (request, reply) => {
    executions.requireAdmin(request.principal);
    reply.send(executionJson(await executions.get(request.principal, executionId(request.params))));
  });

  api.put('/replication/executions/:id', async (request, reply) => {
    executions.requireAdmin(request.principal);
    await executions.stop(request.principal, executionId(request.params));
    reply.send();
  });

  api.get('/replication/executions/:id/tasks', async (request, reply) => {
    executions.requireAdmin(request.principal);
    const query = (request.query ?? {}) as Record<string, unknown>;
    const page = pageRequest(query);
    const status = oneOf(query, 'status', TASK_STATUSES);
    const { items, total } = await executions.tasks(
      request.principal,
      executionId(request.params),
      status,
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(taskJson));
  });

  api.get('/replication/executions/:id/tasks/:task_id/log', async (request, reply) => {
    executions.requireAdmin(request.principal);
    const text = await executions.taskLog(
      request.principal,
      executionId(request.params),
      notFoundUnlessId(request.params, 'task_id'),
    );
    reply.type('text/plain; charset=utf-8').send(text);
  });
}

/** An execution id that is not a number names no execution: 404, as Harbor answers. */
function executionId(params: unknown): number {
  return notFoundUnlessId(params, 'id');
}

function notFoundUnlessId(params: unknown, name: string): number {
  try {
    return pathId(params, name);
  } catch {
    throw new ApiError(
      'NOT_FOUND',
      `${name} ${String((params as Record<string, string>)[name]).slice(0, 40)} not found`,
    );
  }
}
