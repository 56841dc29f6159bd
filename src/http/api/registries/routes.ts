import { z } from 'zod';
import type { Principal } from '../../../services/principal.js';
import type { RegistryEndpointService } from '../../../services/registry-endpoint-service.js';
import { registryInfoJson, registryJson } from '../shapes/registry.js';
import { apiArea, type ApiInstance } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';
import { pageQuery, pathId, queryText } from '../schemas.js';
import {
  endpointChanges,
  endpointChangesBody,
  newEndpoint,
  newEndpointBody,
  pingBody,
} from './endpoint-body.js';

// /api/v2.0/registries, /registries/ping, /registries/{id}/info and /replication/adapters in
// Harbor's shapes (Registry, RegistryUpdate, RegistryPing, RegistryInfo). The secret of a
// credential is never sent back: `access_secret` shows "*****" when one is stored, as Harbor does.
// Wharf extension: `ca_certificate` (PEM bundle of CAs trusted for the peer) on all three shapes.

const registryParams = z.object({ id: pathId('id') });

function registerRegistryReads(api: ApiInstance, endpoints: RegistryEndpointService): void {
  api.get('/replication/adapters', async (request, reply) => {
    reply.send(endpoints.adapters(request.principal));
  });

  api.get(
    '/registries',
    { schema: { querystring: z.object({ ...pageQuery, name: queryText }) } },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const q = parseHarborQuery(request.query.q);
      // `name=` is Harbor's deprecated filter (a fuzzy match there); `q=name=…` / `q=name=~…` the current one.
      const nameLike = q.fuzzy.name ?? request.query.name;
      const { items, total } = await endpoints.list(
        request.principal,
        {
          ...(q.exact.name !== undefined && { name: q.exact.name }),
          ...(nameLike !== undefined && { nameLike }),
          ...(q.exact.type !== undefined && { type: q.exact.type }),
        },
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(registryJson));
    },
  );

  api.get('/registries/:id', { schema: { params: registryParams } }, async (request, reply) => {
    reply.send(registryJson(await endpoints.get(request.principal, request.params.id)));
  });

  api.get('/registries/:id/info', { schema: { params: registryParams } }, async (request, reply) => {
    reply.send(registryInfoJson(await endpoints.capabilities(request.principal, request.params.id)));
  });
}

function registerRegistryWrites(api: ApiInstance, endpoints: RegistryEndpointService): void {
  // Permissions before the body: a caller who may not manage endpoints learns nothing from it.
  const adminFirst = async (request: { principal: Principal }) => endpoints.requireAdmin(request.principal);

  api.post(
    '/registries',
    { preValidation: adminFirst, schema: { body: newEndpointBody } },
    async (request, reply) => {
      const created = await endpoints.create(request.principal, newEndpoint(request.body));
      reply.code(201).header('location', `/api/v2.0/registries/${created.id}`).send();
    },
  );

  api.post(
    '/registries/ping',
    { preValidation: adminFirst, schema: { body: pingBody } },
    async (request, reply) => {
      await endpoints.ping(request.principal, request.body);
      reply.send();
    },
  );

  api.put(
    '/registries/:id',
    { preValidation: adminFirst, schema: { params: registryParams, body: endpointChangesBody } },
    async (request, reply) => {
      await endpoints.update(request.principal, request.params.id, endpointChanges(request.body));
      reply.send();
    },
  );

  api.delete('/registries/:id', { schema: { params: registryParams } }, async (request, reply) => {
    await endpoints.delete(request.principal, request.params.id);
    reply.send();
  });
}

export const registriesArea = apiArea('registries', ['registries'], (api, { registries }) => {
  registerRegistryReads(api, registries);
  registerRegistryWrites(api, registries);
});
