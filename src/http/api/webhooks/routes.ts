import { z } from 'zod';
import type { WebhookPolicyInput } from '../../../services/webhooks/policy-input.js';
import { apiArea, type ApiInstance } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import type { ApiDeps } from '../plugin.js';
import { projectOf, projectParams, type ProjectAddressed } from '../project-ref.js';
import { parseHarborQuery } from '../query.js';
import { jsonBody, optionalBoolean, optionalString, pageQuery, pathId } from '../schemas.js';
import { executionJson, lastTriggerJson, policyJson, supportedJson, taskJson } from './json.js';

// /api/v2.0/projects/{project_name_or_id}/webhook/...: policies (CRUD), their executions, tasks
// and task logs (Harbor 2.9+), the last triggers and the supported event types. Rules live in
// services/webhooks; this file maps Harbor's snake_case to the services' input and back.

const targetBody = z.object(
  {
    type: optionalString('type'),
    address: optionalString('address'),
    auth_header: optionalString('auth_header'),
    skip_cert_verify: optionalBoolean('skip_cert_verify'),
    payload_format: optionalString('payload_format'),
  },
  { error: 'each target must be a JSON object' },
);

const policyBody = jsonBody({
  name: optionalString('name'),
  description: optionalString('description'),
  enabled: optionalBoolean('enabled'),
  event_types: z
    .array(z.string({ error: 'event_types must be a list of strings' }), {
      error: 'event_types must be a list of strings',
    })
    .nullish()
    .transform((v) => v ?? undefined),
  targets: z
    .array(targetBody, { error: 'targets must be a list of targets' })
    .nullish()
    .transform((v) => v ?? undefined),
});

type PolicyBody = z.infer<typeof policyBody>;

function policyInput(body: PolicyBody): WebhookPolicyInput {
  return {
    name: body.name,
    description: body.description,
    enabled: body.enabled,
    eventTypes: body.event_types,
    targets: body.targets?.map((t) => ({
      type: t.type,
      address: t.address,
      authHeader: t.auth_header,
      skipCertVerify: t.skip_cert_verify,
      payloadFormat: t.payload_format,
    })),
  };
}

const policyParams = projectParams.extend({ webhook_policy_id: pathId('webhook_policy_id') });
const executionParams = policyParams.extend({ execution_id: pathId('execution_id') });
const taskParams = executionParams.extend({ task_id: pathId('task_id') });
const listQuery = z.object({ ...pageQuery, sort: z.string().optional() });

const BASE = '/projects/:project_name_or_id/webhook';

type Deps = Pick<ApiDeps, 'projects' | 'webhooks' | 'webhookHistory'>;

function registerPolicyRoutes(api: ApiInstance, deps: Deps): void {
  const project = (r: ProjectAddressed) => projectOf(deps.projects, r);

  api.get(
    `${BASE}/policies`,
    { schema: { params: projectParams, querystring: listQuery } },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const q = parseHarborQuery(request.query.q);
      const { items, total } = await deps.webhooks.list(
        request.principal,
        await project(request),
        { name: q.exact.name, nameLike: q.fuzzy.name },
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(policyJson));
    },
  );

  api.post(
    `${BASE}/policies`,
    { schema: { params: projectParams, body: policyBody } },
    async (request, reply) => {
      const p = await project(request);
      const { policy, secret } = await deps.webhooks.create(request.principal, p, policyInput(request.body));
      // Beyond Harbor: the signing secret, shown this once (Harbor's clients ignore the body).
      reply
        .code(201)
        .header(
          'location',
          `/api/v2.0/projects/${request.params.project_name_or_id}/webhook/policies/${policy.id}`,
        )
        .send({ id: policy.id, secret });
    },
  );

  api.get(
    `${BASE}/policies/:webhook_policy_id`,
    { schema: { params: policyParams } },
    async (request, reply) => {
      const p = await project(request);
      reply.send(policyJson(await deps.webhooks.get(request.principal, p, request.params.webhook_policy_id)));
    },
  );

  api.put(
    `${BASE}/policies/:webhook_policy_id`,
    { schema: { params: policyParams, body: policyBody } },
    async (request, reply) => {
      const p = await project(request);
      await deps.webhooks.update(
        request.principal,
        p,
        request.params.webhook_policy_id,
        policyInput(request.body),
      );
      reply.send();
    },
  );

  api.delete(
    `${BASE}/policies/:webhook_policy_id`,
    { schema: { params: policyParams } },
    async (request, reply) => {
      const p = await project(request);
      await deps.webhooks.delete(request.principal, p, request.params.webhook_policy_id);
      reply.send();
    },
  );

  api.get(`${BASE}/lasttrigger`, { schema: { params: projectParams } }, async (request, reply) => {
    const triggers = await deps.webhookHistory.lastTriggers(request.principal, await project(request));
    reply.send(triggers.map(lastTriggerJson));
  });

  api.get(`${BASE}/events`, { schema: { params: projectParams } }, async (request, reply) => {
    reply.send(supportedJson(await deps.webhookHistory.supported(request.principal, await project(request))));
  });
}

function registerExecutionRoutes(api: ApiInstance, deps: Deps): void {
  const project = (r: ProjectAddressed) => projectOf(deps.projects, r);
  const executions = `${BASE}/policies/:webhook_policy_id/executions`;

  api.get(
    executions,
    { schema: { params: policyParams, querystring: listQuery } },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const { items, total } = await deps.webhookHistory.executions(
        request.principal,
        await project(request),
        request.params.webhook_policy_id,
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(executionJson));
    },
  );

  api.get(
    `${executions}/:execution_id/tasks`,
    { schema: { params: executionParams, querystring: listQuery } },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const { items, total } = await deps.webhookHistory.tasks(
        request.principal,
        await project(request),
        request.params.webhook_policy_id,
        request.params.execution_id,
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(taskJson));
    },
  );

  api.get(
    `${executions}/:execution_id/tasks/:task_id/log`,
    { schema: { params: taskParams } },
    async (request, reply) => {
      const { webhook_policy_id, execution_id, task_id } = request.params;
      const log = await deps.webhookHistory.taskLog(
        request.principal,
        await project(request),
        webhook_policy_id,
        execution_id,
        task_id,
      );
      reply.type('text/plain; charset=utf-8').send(log);
    },
  );
}

export const webhooksArea = apiArea('webhooks', ['projects', 'webhooks', 'webhookHistory'], (api, deps) => {
  registerPolicyRoutes(api, deps);
  registerExecutionRoutes(api, deps);
});
