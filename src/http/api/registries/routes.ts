import type { FastifyInstance } from 'fastify';
import {
  MASKED_SECRET,
  type CredentialInput,
  type EndpointInput,
  type RegistryEndpoint,
  type RegistryEndpointService,
} from '../../../services/registry-endpoint-service.js';
import { ApiError } from '../api-error.js';
import { objectBody, optionalString, pathId } from '../body.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';

// /api/v2.0/registries, /registries/ping, /registries/{id}/info and /replication/adapters in
// Harbor's shapes (Registry, RegistryUpdate, RegistryPing, RegistryInfo). The secret of a
// credential is never sent back: `access_secret` shows "*****" when one is stored, as Harbor does.
// Wharf extension: `ca_certificate` (PEM bundle of CAs trusted for the peer) on all three shapes.

/** An endpoint in Harbor's Registry shape (also inside replication policies). */
export function registryJson(r: RegistryEndpoint) {
  return {
    id: r.id,
    name: r.name,
    url: r.url,
    type: r.type,
    description: r.description,
    insecure: r.insecure,
    // Harbor always has a credential object; an anonymous endpoint has an empty one.
    credential: {
      type: r.credential?.type ?? 'basic',
      access_key: r.credential?.accessKey ?? '',
      access_secret: r.credential?.hasSecret ? MASKED_SECRET : '',
    },
    ca_certificate: r.caCertificate ?? '',
    status: r.status,
    creation_time: r.createdAt.toISOString(),
    update_time: r.updatedAt.toISOString(),
  };
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new ApiError('BAD_REQUEST', `${field} must be true or false`);
  return value;
}

/** `credential: {type, access_key, access_secret}` (Registry) or null (anonymous). */
function nestedCredential(body: Record<string, unknown>): CredentialInput | null | undefined {
  const value = body.credential;
  if (value === undefined) return undefined;
  if (value === null) return null;
  const c = objectBody(value);
  return {
    type: optionalString(c, 'type'),
    access_key: optionalString(c, 'access_key'),
    access_secret: optionalString(c, 'access_secret'),
  };
}

/** RegistryUpdate and RegistryPing carry the credential flat: credential_type, access_key, access_secret. */
function flatCredential(body: Record<string, unknown>): CredentialInput | undefined {
  const type = optionalString(body, 'credential_type');
  const key = optionalString(body, 'access_key');
  const secret = optionalString(body, 'access_secret');
  if (type === undefined && key === undefined && secret === undefined) return undefined;
  return { type, access_key: key, access_secret: secret };
}

function endpointInput(body: Record<string, unknown>): EndpointInput {
  const ca = body.ca_certificate;
  if (ca !== undefined && ca !== null && typeof ca !== 'string') {
    throw new ApiError('BAD_REQUEST', 'ca_certificate must be a PEM string');
  }
  return {
    name: optionalString(body, 'name'),
    url: optionalString(body, 'url'),
    type: optionalString(body, 'type'),
    description: optionalString(body, 'description'),
    credential: flatCredential(body) ?? nestedCredential(body),
    insecure: optionalBoolean(body, 'insecure'),
    ca_certificate: ca as string | null | undefined,
  };
}

export function registerRegistryRoutes(api: FastifyInstance, endpoints: RegistryEndpointService): void {
  api.get('/replication/adapters', async (request, reply) => {
    reply.send(endpoints.adapters(request.principal));
  });

  api.get('/registries', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
    // `name=` is Harbor's deprecated filter (a fuzzy match there); `q=name=…` / `q=name=~…` the current one.
    const legacy = typeof query.name === 'string' && query.name !== '' ? query.name : undefined;
    const nameLike = q.fuzzy.name ?? legacy;
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
  });

  api.post('/registries', async (request, reply) => {
    endpoints.requireAdmin(request.principal);
    const created = await endpoints.create(request.principal, endpointInput(objectBody(request.body)));
    reply.code(201).header('location', `/api/v2.0/registries/${created.id}`).send();
  });

  api.post('/registries/ping', async (request, reply) => {
    endpoints.requireAdmin(request.principal);
    const body = objectBody(request.body);
    const id = body.id;
    if (id !== undefined && id !== null && !(typeof id === 'number' && Number.isSafeInteger(id) && id > 0)) {
      throw new ApiError('BAD_REQUEST', 'id must be a positive integer');
    }
    await endpoints.ping(request.principal, {
      ...endpointInput(body),
      ...(typeof id === 'number' && { id }),
    });
    reply.send();
  });

  api.get('/registries/:id', async (request, reply) => {
    reply.send(registryJson(await endpoints.get(request.principal, pathId(request.params, 'id'))));
  });

  api.put('/registries/:id', async (request, reply) => {
    endpoints.requireAdmin(request.principal);
    await endpoints.update(
      request.principal,
      pathId(request.params, 'id'),
      endpointInput(objectBody(request.body)),
    );
    reply.send();
  });

  api.delete('/registries/:id', async (request, reply) => {
    await endpoints.delete(request.principal, pathId(request.params, 'id'));
    reply.send();
  });

  api.get('/registries/:id/info', async (request, reply) => {
    reply.send(await endpoints.info(request.principal, pathId(request.params, 'id')));
  });
}
