import { z } from 'zod';
import type { Principal } from '../../../services/principal.js';
import type {
  CredentialInput,
  EndpointInput,
  RegistryEndpointService,
} from '../../../services/registry-endpoint-service.js';
import { registryJson } from '../shapes/registry.js';
import { apiArea, type ApiInstance } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';
import { jsonBody, optionalBoolean, optionalString, pageQuery, pathId, queryText } from '../schemas.js';

// /api/v2.0/registries, /registries/ping, /registries/{id}/info and /replication/adapters in
// Harbor's shapes (Registry, RegistryUpdate, RegistryPing, RegistryInfo). The secret of a
// credential is never sent back: `access_secret` shows "*****" when one is stored, as Harbor does.
// Wharf extension: `ca_certificate` (PEM bundle of CAs trusted for the peer) on all three shapes.

/** `credential: {type, access_key, access_secret}` (Registry) or null (anonymous). */
const nestedCredential = z
  .object(
    {
      type: optionalString('credential.type'),
      access_key: optionalString('credential.access_key'),
      access_secret: optionalString('credential.access_secret'),
    },
    { error: 'credential must be a JSON object or null' },
  )
  .nullish();

/**
 * Registry (create), RegistryUpdate and RegistryPing in one shape: the latter two carry the
 * credential flat (credential_type, access_key, access_secret), the first nested.
 */
const endpointFields = {
  name: optionalString('name'),
  url: optionalString('url'),
  type: optionalString('type'),
  description: optionalString('description'),
  credential: nestedCredential,
  credential_type: optionalString('credential_type'),
  access_key: optionalString('access_key'),
  access_secret: optionalString('access_secret'),
  insecure: optionalBoolean('insecure'),
  ca_certificate: z.string({ error: 'ca_certificate must be a PEM string' }).nullish(),
};

const endpointBody = jsonBody(endpointFields);

const pingBody = jsonBody({
  ...endpointFields,
  id: z
    .number({ error: 'id must be a positive integer' })
    .int('id must be a positive integer')
    .min(1, 'id must be a positive integer')
    .max(Number.MAX_SAFE_INTEGER, 'id must be a positive integer')
    .nullish(),
});

function endpointInput(body: z.output<typeof endpointBody>): EndpointInput {
  const flat =
    body.credential_type === undefined && body.access_key === undefined && body.access_secret === undefined
      ? undefined
      : { type: body.credential_type, access_key: body.access_key, access_secret: body.access_secret };
  const nested: CredentialInput | null | undefined = body.credential;
  return {
    name: body.name,
    url: body.url,
    type: body.type,
    description: body.description,
    credential: flat ?? nested,
    insecure: body.insecure,
    ca_certificate: body.ca_certificate,
  };
}

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
    reply.send(await endpoints.info(request.principal, request.params.id));
  });
}

function registerRegistryWrites(api: ApiInstance, endpoints: RegistryEndpointService): void {
  // Permissions before the body: a caller who may not manage endpoints learns nothing from it.
  const adminFirst = async (request: { principal: Principal }) => endpoints.requireAdmin(request.principal);

  api.post(
    '/registries',
    { preValidation: adminFirst, schema: { body: endpointBody } },
    async (request, reply) => {
      const created = await endpoints.create(request.principal, endpointInput(request.body));
      reply.code(201).header('location', `/api/v2.0/registries/${created.id}`).send();
    },
  );

  api.post(
    '/registries/ping',
    { preValidation: adminFirst, schema: { body: pingBody } },
    async (request, reply) => {
      const id = request.body.id;
      await endpoints.ping(request.principal, {
        ...endpointInput(request.body),
        ...(typeof id === 'number' && { id }),
      });
      reply.send();
    },
  );

  api.put(
    '/registries/:id',
    { preValidation: adminFirst, schema: { params: registryParams, body: endpointBody } },
    async (request, reply) => {
      await endpoints.update(request.principal, request.params.id, endpointInput(request.body));
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
