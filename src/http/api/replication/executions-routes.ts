import { z } from 'zod';
import type { Principal } from '../../../services/principal.js';
import type {
  ExecutionStatus,
  ExecutionTrigger,
  ExecutionView,
  ReplicationExecutionService,
  TaskRow,
  TaskStatus,
} from '../../../replication/execution/index.js';
import type { ApiInstance } from '../area.js';
import { ApiError } from '../api-error.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { jsonBody, pageQuery, queryEnum, queryText } from '../schemas.js';

// /api/v2.0/replication/executions in Harbor's shapes (ReplicationExecution, ReplicationTask,
// StartReplicationExecution): start (201 + Location), list (policy_id, status, trigger, paging),
// one execution, stop (PUT), its tasks (status filter, paging) and a task's log (text/plain).

const EXECUTION_STATUSES: readonly [ExecutionStatus, ...ExecutionStatus[]] = [
  'InProgress',
  'Succeed',
  'Failed',
  'Stopped',
];
const TASK_STATUSES: readonly [TaskStatus, ...TaskStatus[]] = [
  'Pending',
  'InProgress',
  'Succeed',
  'Failed',
  'Stopped',
];
const TRIGGERS: readonly [ExecutionTrigger, ...ExecutionTrigger[]] = ['manual', 'scheduled', 'event_based'];

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

const BAD_POLICY_ID = 'policy_id must be a positive integer policy id';

const policyIdNumber = z
  .number({ error: BAD_POLICY_ID })
  .int(BAD_POLICY_ID)
  .min(1, BAD_POLICY_ID)
  .max(Number.MAX_SAFE_INTEGER, BAD_POLICY_ID);

const listQuery = z.object({
  ...pageQuery,
  policy_id: queryText.refine(
    (v) => v === undefined || (/^\d{1,15}$/.test(v) && Number(v) >= 1),
    BAD_POLICY_ID,
  ),
  status: queryEnum('status', EXECUTION_STATUSES),
  trigger: queryEnum('trigger', TRIGGERS),
});

/** As a number or, as some clients send it, a numeric string. */
const bodyPolicyId = z
  .union(
    [
      z.number(),
      z
        .string()
        .regex(/^\d{1,15}$/)
        .transform(Number),
    ],
    { error: BAD_POLICY_ID },
  )
  .pipe(policyIdNumber);

/**
 * Ids in these paths are read by the handlers: an id that is not a number names no execution
 * or task, which is a 404 as Harbor answers, not a 400.
 */
const executionParams = z.object({ id: z.string() });
const taskParams = executionParams.extend({ task_id: z.string() });

function notFoundUnlessId(raw: string, name: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError('NOT_FOUND', `${name} ${raw.slice(0, 40)} not found`);
  return Number(raw);
}

export function registerReplicationExecutionRoutes(
  api: ApiInstance,
  executions: ReplicationExecutionService,
): void {
  // Permissions first: a caller who may not see executions learns nothing from ids and bodies.
  const adminFirst = async (request: { principal: Principal }) => executions.requireAdmin(request.principal);
  registerExecutionRoutes(api, executions, adminFirst);
  registerTaskRoutes(api, executions, adminFirst);
}

type AdminFirst = (request: { principal: Principal }) => Promise<void>;

/** Start, list, show and stop executions. */
function registerExecutionRoutes(
  api: ApiInstance,
  executions: ReplicationExecutionService,
  adminFirst: AdminFirst,
): void {
  api.post(
    '/replication/executions',
    { preValidation: adminFirst, schema: { body: jsonBody({ policy_id: bodyPolicyId }) } },
    async (request, reply) => {
      const id = await executions.start(request.principal, request.body.policy_id);
      reply.code(201).header('location', `/api/v2.0/replication/executions/${id}`).send();
    },
  );

  api.get(
    '/replication/executions',
    { preValidation: adminFirst, schema: { querystring: listQuery } },
    async (request, reply) => {
      const { policy_id: policyId, status, trigger } = request.query;
      const page = pageRequest(request.query);
      const { items, total } = await executions.list(
        request.principal,
        {
          ...(policyId !== undefined && { policyId: Number(policyId) }),
          ...(status !== undefined && { status }),
          ...(trigger !== undefined && { trigger }),
        },
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(executionJson));
    },
  );

  api.get(
    '/replication/executions/:id',
    { preValidation: adminFirst, schema: { params: executionParams } },
    async (request, reply) => {
      const id = notFoundUnlessId(request.params.id, 'id');
      reply.send(executionJson(await executions.get(request.principal, id)));
    },
  );

  api.put(
    '/replication/executions/:id',
    { preValidation: adminFirst, schema: { params: executionParams } },
    async (request, reply) => {
      await executions.stop(request.principal, notFoundUnlessId(request.params.id, 'id'));
      reply.send();
    },
  );
}

/** An execution's tasks and their logs. */
function registerTaskRoutes(
  api: ApiInstance,
  executions: ReplicationExecutionService,
  adminFirst: AdminFirst,
): void {
  api.get(
    '/replication/executions/:id/tasks',
    {
      preValidation: adminFirst,
      schema: {
        params: executionParams,
        querystring: z.object({ ...pageQuery, status: queryEnum('status', TASK_STATUSES) }),
      },
    },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const { items, total } = await executions.tasks(
        request.principal,
        notFoundUnlessId(request.params.id, 'id'),
        request.query.status,
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(taskJson));
    },
  );

  api.get(
    '/replication/executions/:id/tasks/:task_id/log',
    { preValidation: adminFirst, schema: { params: taskParams } },
    async (request, reply) => {
      const text = await executions.taskLog(
        request.principal,
        notFoundUnlessId(request.params.id, 'id'),
        notFoundUnlessId(request.params.task_id, 'task_id'),
      );
      reply.type('text/plain; charset=utf-8').send(text);
    },
  );
}
