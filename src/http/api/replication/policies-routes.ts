import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {
  PolicyInput,
  PolicyView,
  ReplicationPolicyService,
} from '../../../services/replication-policy-service.js';
import { ApiError } from '../api-error.js';
import { objectBody, optionalString, pathId } from '../body.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';
import type { RegistryEndpoint } from '../../../services/registry-endpoint-service.js';
import { registryJson } from '../registries/routes.js';

// /api/v2.0/replication/policies and /replication/policies/{id} in Harbor's shapes
// (ReplicationPolicy, ReplicationFilter, ReplicationTrigger, Registry). As in Harbor, this registry
// is "registry 0": a request may give it as null, as {id: 0} or leave the side out, and a response
// shows it as the registry {id: 0, name: "Local"}. `deletion` is Harbor's deprecated name of
// `replicate_deletion`: both are read (the current one first) and both are written.
// PUT changes the fields the body carries and keeps the others (Harbor's portal sends them all).

/** This registry, as Harbor shows the local side of a policy. */
function localRegistryJson(request: FastifyRequest, since: Date) {
  return {
    id: 0,
    name: 'Local',
    url: `${request.protocol}://${request.host}`,
    type: 'harbor',
    description: '',
    insecure: false,
    credential: { type: 'basic', access_key: '', access_secret: '' },
    status: 'healthy',
    creation_time: since.toISOString(),
    update_time: since.toISOString(),
  };
}

function policyJson(request: FastifyRequest, { policy: p, srcRegistry, destRegistry }: PolicyView) {
  const side = (r: RegistryEndpoint | null) =>
    r ? registryJson(r) : localRegistryJson(request, p.createdAt);
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    src_registry: side(srcRegistry),
    dest_registry: side(destRegistry),
    dest_namespace: p.destNamespace,
    dest_namespace_replace_count: p.destNamespaceReplaceCount,
    trigger: { type: p.trigger.type, trigger_settings: { cron: p.trigger.cron } },
    filters: p.filters.map((f) => ({
      type: f.type,
      value: f.value,
      ...('decoration' in f && f.decoration !== undefined && { decoration: f.decoration }),
    })),
    replicate_deletion: p.replicateDeletion,
    deletion: p.replicateDeletion,
    override: p.override,
    enabled: p.enabled,
    speed: p.speed,
    copy_by_chunk: p.copyByChunk,
    creation_time: p.createdAt.toISOString(),
    update_time: p.updatedAt.toISOString(),
  };
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new ApiError('BAD_REQUEST', `${field} must be true or false`);
  return value;
}

function optionalInteger(body: Record<string, unknown>, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ApiError('BAD_REQUEST', `${field} must be an integer`);
  }
  return value;
}

/** `src_registry` / `dest_registry`: a Registry object (only its id counts) or null; 0 is this registry. */
function registryId(body: Record<string, unknown>, field: string): number | null | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError('BAD_REQUEST', `${field} must be a registry object ({"id": …}) or null`);
  }
  const id = (value as Record<string, unknown>).id;
  if (id === undefined || id === null) return null;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
    throw new ApiError('BAD_REQUEST', `${field}.id must be a registry id (0 for this registry)`);
  }
  return id === 0 ? null : id;
}

function filters(body: Record<string, unknown>): PolicyInput['filters'] {
  const value = body.filters;
  if (value === undefined) return undefined;
  if (value === null) return [];
  if (!Array.isArray(value)) throw new ApiError('BAD_REQUEST', 'filters must be a list');
  return value.map((f, i) => {
    if (typeof f !== 'object' || f === null || Array.isArray(f)) {
      throw new ApiError('BAD_REQUEST', `filters[${i}] must be an object {type, value, decoration}`);
    }
    const { type, value: v, decoration } = f as Record<string, unknown>;
    return { type, value: v, decoration };
  });
}

function trigger(body: Record<string, unknown>): PolicyInput['trigger'] {
  const value = body.trigger;
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError('BAD_REQUEST', 'trigger must be an object {type, trigger_settings: {cron}}');
  }
  const t = value as Record<string, unknown>;
  const settings = t.trigger_settings;
  if (
    settings !== undefined &&
    settings !== null &&
    (typeof settings !== 'object' || Array.isArray(settings))
  ) {
    throw new ApiError('BAD_REQUEST', 'trigger.trigger_settings must be an object {cron}');
  }
  return { type: t.type, cron: (settings as Record<string, unknown> | null | undefined)?.cron };
}

function policyInput(body: Record<string, unknown>): PolicyInput {
  const src = registryId(body, 'src_registry');
  const dest = registryId(body, 'dest_registry');
  const sidesGiven = src !== undefined || dest !== undefined;
  return {
    name: optionalString(body, 'name'),
    description: optionalString(body, 'description'),
    ...(sidesGiven && { src_registry: src ?? null, dest_registry: dest ?? null }),
    dest_namespace: optionalString(body, 'dest_namespace'),
    dest_namespace_replace_count: optionalInteger(body, 'dest_namespace_replace_count'),
    filters: filters(body),
    trigger: trigger(body),
    replicate_deletion: optionalBoolean(body, 'replicate_deletion') ?? optionalBoolean(body, 'deletion'),
    override: optionalBoolean(body, 'override'),
    speed: optionalInteger(body, 'speed'),
    enabled: optionalBoolean(body, 'enabled'),
    copy_by_chunk: optionalBoolean(body, 'copy_by_chunk'),
  };
}

export function registerReplicationPolicyRoutes(
  api: FastifyInstance,
  policies: ReplicationPolicyService,
): void {
  api.get('/replication/policies', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
    // `name=` is Harbor's deprecated filter (a fuzzy match there); `q=name=…` / `q=name=~…` the current one.
    const legacy = typeof query.name === 'string' && query.name !== '' ? query.name : undefined;
    const nameLike = q.fuzzy.name ?? legacy;
    const { items, total } = await policies.list(
      request.principal,
      {
        ...(q.exact.name !== undefined && { name: q.exact.name }),
        ...(nameLike !== undefined && { nameLike }),
      },
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map((view) => policyJson(request, view)));
  });

  api.post('/replication/policies', async (request, reply) => {
    policies.requireAdmin(request.principal);
    const created = await policies.create(request.principal, policyInput(objectBody(request.body)));
    reply.code(201).header('location', `/api/v2.0/replication/policies/${created.id}`).send();
  });

  api.get('/replication/policies/:id', async (request, reply) => {
    reply.send(policyJson(request, await policies.get(request.principal, pathId(request.params, 'id'))));
  });

  api.put('/replication/policies/:id', async (request, reply) => {
    policies.requireAdmin(request.principal);
    await policies.update(
      request.principal,
      pathId(request.params, 'id'),
      policyInput(objectBody(request.body)),
    );
    reply.send();
  });

  api.delete('/replication/policies/:id', async (request, reply) => {
    await policies.delete(request.principal, pathId(request.params, 'id'));
    reply.send();
  });
}
