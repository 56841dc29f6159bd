import { z } from 'zod';
import type { QuotaRow } from '../../../services/quotas/quota-service.js';
import { apiArea } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { jsonBody, pageQuery, pathId, queryText } from '../schemas.js';

// /api/v2.0/quotas and /quotas/{id} in Harbor's shapes (Quota, QuotaUpdateReq): each project's
// storage limit (`hard`) and usage (`used`), in bytes, -1 meaning unlimited. System
// administrators only (the quota service decides).

function quotaJson(q: QuotaRow) {
  return {
    id: q.id,
    ref: { id: q.project_id, name: q.project_name, owner_name: q.owner_name ?? '' },
    hard: { storage: q.hard },
    used: { storage: q.used },
    creation_time: q.created_at.toISOString(),
    update_time: q.updated_at.toISOString(),
  };
}

const quotaParams = z.object({ id: pathId('id') });

/** QuotaUpdateReq: `hard` maps resource names to limits; Wharf (as Harbor today) knows `storage`. */
const quotaUpdateBody = jsonBody({
  hard: z.record(
    z.string(),
    z.number({ error: 'hard values must be integers' }).int('hard values must be integers'),
    {
      error: 'hard must be an object such as {"storage": 1073741824}',
    },
  ),
});

export const quotasArea = apiArea('quota', ['quotas'], (api, { quotas }) => {
  api.get(
    '/quotas',
    {
      schema: {
        querystring: z.object({
          ...pageQuery,
          reference: queryText,
          reference_id: queryText,
          sort: queryText,
        }),
      },
    },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const { reference, reference_id: referenceId, sort } = request.query;
      const filter = {
        ...(reference !== undefined && { reference }),
        ...(referenceId !== undefined && { referenceId }),
        ...(sort !== undefined && { sort }),
      };
      const { items, total } = await quotas.list(request.principal, filter, page.offset, page.pageSize);
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(quotaJson));
    },
  );

  api.get('/quotas/:id', { schema: { params: quotaParams } }, async (request, reply) => {
    reply.send(quotaJson(await quotas.get(request.principal, request.params.id)));
  });

  api.put(
    '/quotas/:id',
    { schema: { params: quotaParams, body: quotaUpdateBody } },
    async (request, reply) => {
      await quotas.update(request.principal, request.params.id, request.body.hard);
      reply.send();
    },
  );
});
