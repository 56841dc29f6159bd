import { isSignedIn } from '../../../services/principal.js';
import type {
  RetentionExecutionRow,
  RetentionExecutionService,
  RetentionPolicyService,
  RetentionTaskRow,
} from '../../../services/retention/index.js';
import { ServiceError } from '../../../services/service-error.js';
import { ApiError } from '../api-error.js';
import { apiArea, type ApiInstance } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { pageQuery } from '../schemas.js';
import { z } from 'zod';
import {
  executionBody,
  executionParams,
  operationBody,
  policyParams,
  RETENTION_METADATA,
  retentionPolicyBody,
  taskParams,
} from './schemas.js';

// /api/v2.0/retentions in Harbor's shapes: policies (RetentionPolicy; create answers 201 with its
// Location), the metadata of templates and selectors, executions (RetentionExecution: trigger,
// list, PATCH {"action":"stop"}), their tasks (RetentionExecutionTask, one per repository) and a
// task's log (text/plain). Permissions: the tag-retention resource of the policy's project.

/** Harbor's job status codes: pending 0, running 2, ended 3. */
const STATUS_CODE: Record<RetentionTaskRow['status'], number> = {
  Pending: 0,
  Running: 2,
  Success: 3,
  Error: 3,
  Stopped: 3,
};

function executionJson(e: RetentionExecutionRow) {
  return {
    id: e.id,
    policy_id: e.policy_id,
    start_time: e.start_time.toISOString(),
    end_time: e.end_time?.toISOString() ?? null,
    status: e.status,
    trigger: e.trigger,
    dry_run: e.dry_run,
  };
}

function taskJson(t: RetentionTaskRow) {
  return {
    id: t.id,
    execution_id: t.execution_id,
    repository: t.repository,
    job_id: t.job_id === null ? '' : String(t.job_id),
    status: t.status,
    status_code: STATUS_CODE[t.status],
    start_time: t.start_time?.toISOString() ?? null,
    end_time: t.end_time?.toISOString() ?? null,
    total: t.total,
    retained: t.retained,
  };
}

function idOf(raw: string, name: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError('NOT_FOUND', `${name} ${raw.slice(0, 40)} not found`);
  return Number(raw);
}

const signedIn = async (request: { principal: Parameters<typeof isSignedIn>[0] }) => {
  if (!isSignedIn(request.principal)) throw new ServiceError('unauthorized', 'authentication required');
};

function registerPolicyRoutes(api: ApiInstance, policies: RetentionPolicyService): void {
  api.get('/retentions/metadatas', { preValidation: signedIn }, async () => RETENTION_METADATA);

  api.post('/retentions', { schema: { body: retentionPolicyBody } }, async (request, reply) => {
    const id = await policies.create(request.principal, request.body);
    reply.code(201).header('location', `/api/v2.0/retentions/${id}`).send();
  });

  api.get('/retentions/:id', { schema: { params: policyParams } }, async (request) => {
    const loaded = await policies.load(request.principal, idOf(request.params.id, 'retention'), 'read');
    return policies.view(loaded);
  });

  api.put(
    '/retentions/:id',
    { schema: { params: policyParams, body: retentionPolicyBody } },
    async (request, reply) => {
      await policies.update(request.principal, idOf(request.params.id, 'retention'), request.body);
      reply.send();
    },
  );

  api.delete('/retentions/:id', { schema: { params: policyParams } }, async (request, reply) => {
    await policies.delete(request.principal, idOf(request.params.id, 'retention'));
    reply.send();
  });
}

function registerExecutionRoutes(api: ApiInstance, executions: RetentionExecutionService): void {
  api.post(
    '/retentions/:id/executions',
    { schema: { params: policyParams, body: executionBody } },
    async (request, reply) => {
      const policyId = idOf(request.params.id, 'retention');
      const id = await executions.trigger(request.principal, policyId, request.body.dry_run);
      reply.code(201).header('location', `/api/v2.0/retentions/${policyId}/executions/${id}`).send();
    },
  );

  api.get(
    '/retentions/:id/executions',
    { schema: { params: policyParams, querystring: z.object(pageQuery) } },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const policyId = idOf(request.params.id, 'retention');
      const { items, total } = await executions.list(request.principal, policyId, page.offset, page.pageSize);
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(executionJson));
    },
  );

  api.patch(
    '/retentions/:id/executions/:eid',
    { schema: { params: executionParams, body: operationBody } },
    async (request, reply) => {
      if (request.body.action !== 'stop') throw new ApiError('BAD_REQUEST', "action should be 'stop'");
      const { id, eid } = request.params;
      await executions.stop(request.principal, idOf(id, 'retention'), idOf(eid, 'execution'));
      reply.send();
    },
  );

  api.get(
    '/retentions/:id/executions/:eid/tasks',
    { schema: { params: executionParams, querystring: z.object(pageQuery) } },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const { id, eid } = request.params;
      const { items, total } = await executions.tasks(
        request.principal,
        idOf(id, 'retention'),
        idOf(eid, 'execution'),
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(taskJson));
    },
  );

  api.get(
    '/retentions/:id/executions/:eid/tasks/:tid',
    { schema: { params: taskParams } },
    async (request, reply) => {
      const { id, eid, tid } = request.params;
      const text = await executions.taskLog(
        request.principal,
        idOf(id, 'retention'),
        idOf(eid, 'execution'),
        idOf(tid, 'task'),
      );
      reply.type('text/plain; charset=utf-8').send(text);
    },
  );
}

/** Tag retention: policies, their executions, tasks and logs. */
export const retentionsArea = apiArea(
  'retention',
  ['retentionPolicies', 'retentionExecutions'],
  (api, { retentionPolicies, retentionExecutions }) => {
    registerPolicyRoutes(api, retentionPolicies);
    registerExecutionRoutes(api, retentionExecutions);
  },
);
