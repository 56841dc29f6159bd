import { z } from 'zod';
import type { LabelService } from '../../../services/labels-service.js';
import type { ApiInstance } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';
import { jsonBody, optionalString, pageQuery, pathId, queryText } from '../schemas.js';
import { labelJson } from '../shapes/label.js';

// /api/v2.0/labels and /labels/{label_id} in Harbor's shapes (Label). Attaching labels to
// artifacts is in artifact-label-routes.ts.

const BAD_PROJECT_ID = 'project_id must be a non-negative integer';

/**
 * Harbor's Label as a request: unknown fields (id, creation_time, deleted ... that clients send
 * back) are ignored, as in Harbor. project_id 0 or absent means none (global labels carry 0).
 */
const labelBody = jsonBody({
  name: optionalString('name'),
  description: optionalString('description'),
  color: optionalString('color'),
  scope: optionalString('scope'),
  project_id: z
    .number({ error: BAD_PROJECT_ID })
    .int(BAD_PROJECT_ID)
    .min(0, BAD_PROJECT_ID)
    .max(Number.MAX_SAFE_INTEGER, BAD_PROJECT_ID)
    .nullish()
    .transform((v) => v ?? undefined),
});

const listLabelsQuery = z.object({
  ...pageQuery,
  name: queryText,
  scope: z.string().optional(),
  project_id: queryText.refine((v) => v === undefined || /^\d{1,15}$/.test(v), BAD_PROJECT_ID),
});

const labelParams = z.object({ label_id: pathId('label_id') });

function labelInput(body: z.output<typeof labelBody>) {
  return {
    name: body.name,
    description: body.description,
    color: body.color,
    scope: body.scope,
    projectId: body.project_id,
  };
}

export function registerLabelRoutes(api: ApiInstance, labels: LabelService): void {
  api.get('/labels', { schema: { querystring: listLabelsQuery } }, async (request, reply) => {
    const query = request.query;
    const page = pageRequest(query);
    const q = parseHarborQuery(query.q);
    // `name=` is Harbor's fuzzy filter; `q=name=…` (exact) and `q=name=~…` (fuzzy) work too.
    const { items, total } = await labels.list(
      request.principal,
      {
        scope: query.scope,
        projectId: query.project_id === undefined ? undefined : Number(query.project_id),
        name: q.exact.name,
        nameLike: q.fuzzy.name ?? query.name,
      },
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(labelJson));
  });

  api.post('/labels', { schema: { body: labelBody } }, async (request, reply) => {
    const created = await labels.create(request.principal, labelInput(request.body));
    reply.code(201).header('location', `/api/v2.0/labels/${created.id}`).send();
  });

  api.get('/labels/:label_id', { schema: { params: labelParams } }, async (request, reply) => {
    reply.send(labelJson(await labels.get(request.principal, request.params.label_id)));
  });

  api.put(
    '/labels/:label_id',
    { schema: { params: labelParams, body: labelBody } },
    async (request, reply) => {
      await labels.update(request.principal, request.params.label_id, labelInput(request.body));
      reply.send();
    },
  );

  api.delete('/labels/:label_id', { schema: { params: labelParams } }, async (request, reply) => {
    await labels.delete(request.principal, request.params.label_id);
    reply.send();
  });
}
