import type { FastifyInstance } from 'fastify';
import type { LabelRow } from '../../../metadata/labels-table.js';
import type { LabelInput, LabelService } from '../../../services/labels-service.js';
import { ApiError } from '../api-error.js';
import { objectBody, optionalString, pathId } from '../body.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';

// /api/v2.0/labels and /labels/{label_id} in Harbor's shapes (Label). Attaching labels to
// artifacts is in artifact-label-routes.ts.

/** A label in Harbor's Label shape (also inside artifacts listed with_label). */
export function labelJson(l: LabelRow) {
  return {
    id: l.id,
    name: l.name,
    description: l.description,
    color: l.color,
    scope: l.scope,
    // Harbor's global labels carry project 0.
    project_id: l.project_id ?? 0,
    creation_time: l.creation_time.toISOString(),
    update_time: l.update_time.toISOString(),
    // Harbor's field from the days of soft deletion: a label that can be read is not deleted.
    deleted: false,
  };
}

const BAD_PROJECT_ID = 'project_id must be a non-negative integer';

/** project_id of a JSON body: a number; 0 or absent means none (Harbor's global labels carry 0). */
function bodyProjectId(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ApiError('BAD_REQUEST', BAD_PROJECT_ID);
  }
  return value;
}

/** project_id of a query string. */
function queryProjectId(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value))
    throw new ApiError('BAD_REQUEST', BAD_PROJECT_ID);
  return Number(value);
}

function labelInput(body: Record<string, unknown>): LabelInput {
  // Unknown fields (id, creation_time, deleted ... that clients send back) are ignored, as in Harbor.
  return {
    name: optionalString(body, 'name'),
    description: optionalString(body, 'description'),
    color: optionalString(body, 'color'),
    scope: optionalString(body, 'scope'),
    projectId: bodyProjectId(body.project_id),
  };
}

export function registerLabelRoutes(api: FastifyInstance, labels: LabelService): void {
  api.get('/labels', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
    // `name=` is Harbor's fuzzy filter; `q=name=…` (exact) and `q=name=~…` (fuzzy) work too.
    const legacy = typeof query.name === 'string' && query.name !== '' ? query.name : undefined;
    const { items, total } = await labels.list(
      request.principal,
      {
        scope: typeof query.scope === 'string' ? query.scope : undefined,
        projectId: queryProjectId(query.project_id),
        name: q.exact.name,
        nameLike: q.fuzzy.name ?? legacy,
      },
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(labelJson));
  });

  api.post('/labels', async (request, reply) => {
    const created = await labels.create(request.principal, labelInput(objectBody(request.body)));
    reply.code(201).header('location', `/api/v2.0/labels/${created.id}`).send();
  });

  api.get('/labels/:label_id', async (request, reply) => {
    reply.send(labelJson(await labels.get(request.principal, pathId(request.params, 'label_id'))));
  });

  api.put('/labels/:label_id', async (request, reply) => {
    const id = pathId(request.params, 'label_id');
    await labels.update(request.principal, id, labelInput(objectBody(request.body)));
    reply.send();
  });

  api.delete('/labels/:label_id', async (request, reply) => {
    await labels.delete(request.principal, pathId(request.params, 'label_id'));
    reply.send();
  });
}
