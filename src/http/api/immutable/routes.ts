import { z } from 'zod';
import type { ImmutableRuleInput, ImmutableRuleView } from '../../../services/immutable-rules-service.js';
import { apiArea } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { projectOf, projectParams, type ProjectAddressed } from '../project-ref.js';
import { jsonBody, optionalBoolean, optionalInteger, optionalString, pageQuery, pathId } from '../schemas.js';

// /api/v2.0/projects/{project_name_or_id}/immutabletagrules[/{immutable_rule_id}]: Harbor's tag
// immutability rules (ImmutableRule in its swagger). The rules' checks live in the service; this
// maps Harbor's snake_case to the service's input and back.

const selector = z.object(
  {
    kind: z.string({ error: 'a selector kind must be a string' }),
    decoration: z.string({ error: 'a selector decoration must be a string' }),
    pattern: z.string({ error: 'a selector pattern must be a string' }),
    extras: optionalString('extras'),
  },
  { error: 'each selector must be a JSON object with kind, decoration and pattern' },
);

const selectorList = (field: string) =>
  z
    .array(selector, { error: `${field} must be a list of selectors` })
    .max(16, `${field} may hold at most 16 selectors`)
    .nullish()
    .transform((v) => v ?? undefined);

const ruleBody = jsonBody({
  id: optionalInteger('id'),
  disabled: optionalBoolean('disabled'),
  priority: optionalInteger('priority'),
  action: optionalString('action'),
  template: optionalString('template'),
  params: z
    .record(z.string(), z.unknown(), { error: 'params must be a JSON object' })
    .nullish()
    .transform((v) => v ?? undefined),
  tag_selectors: selectorList('tag_selectors'),
  scope_selectors: z
    .record(z.string(), selectorList('scope_selectors.repository'), {
      error: 'scope_selectors must be a JSON object of selector lists',
    })
    .nullish()
    .transform((v) => v ?? undefined),
});

type RuleBody = z.infer<typeof ruleBody>;

function ruleInput(body: RuleBody): ImmutableRuleInput {
  const scopes = body.scope_selectors;
  return {
    id: body.id,
    disabled: body.disabled,
    priority: body.priority,
    action: body.action,
    template: body.template,
    params: body.params,
    tagSelectors: body.tag_selectors,
    scopeSelectors: scopes && Object.fromEntries(Object.entries(scopes).map(([k, v]) => [k, v ?? []])),
  };
}

function ruleJson(r: ImmutableRuleView) {
  return {
    id: r.id,
    project_id: r.projectId,
    disabled: r.disabled,
    priority: r.priority,
    action: r.action,
    template: r.template,
    params: r.params,
    tag_selectors: r.tagSelectors,
    scope_selectors: r.scopeSelectors,
  };
}

const BASE = '/projects/:project_name_or_id/immutabletagrules';
const ruleParams = projectParams.extend({ immutable_rule_id: pathId('immutable_rule_id') });
const listQuery = z.object({ ...pageQuery, sort: z.string().optional() });

export const immutableArea = apiArea('immutable', ['projects', 'immutableRules'], (api, deps) => {
  const project = (r: ProjectAddressed) => projectOf(deps.projects, r);

  api.get(BASE, { schema: { params: projectParams, querystring: listQuery } }, async (request, reply) => {
    const page = pageRequest(request.query);
    const { items, total } = await deps.immutableRules.list(
      request.principal,
      await project(request),
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(ruleJson));
  });

  api.post(BASE, { schema: { params: projectParams, body: ruleBody } }, async (request, reply) => {
    const rule = await deps.immutableRules.create(
      request.principal,
      await project(request),
      ruleInput(request.body),
    );
    reply
      .code(201)
      .header(
        'location',
        `/api/v2.0/projects/${request.params.project_name_or_id}/immutabletagrules/${rule.id}`,
      )
      .send();
  });

  api.put(
    `${BASE}/:immutable_rule_id`,
    { schema: { params: ruleParams, body: ruleBody } },
    async (request, reply) => {
      const p = await project(request);
      await deps.immutableRules.update(
        request.principal,
        p,
        request.params.immutable_rule_id,
        ruleInput(request.body),
      );
      reply.send();
    },
  );

  api.delete(`${BASE}/:immutable_rule_id`, { schema: { params: ruleParams } }, async (request, reply) => {
    const p = await project(request);
    await deps.immutableRules.delete(request.principal, p, request.params.immutable_rule_id);
    reply.send();
  });
});
