import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../../services/principal.js';
import type {
  PolicyInput,
  PolicyView,
  ReplicationPolicyService,
} from '../../../services/replication-policy-service.js';
import type { ApiInstance } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';
import {
  jsonBody,
  optionalBoolean,
  optionalInteger,
  optionalString,
  pageQuery,
  pathId,
  queryText,
  serviceChecked,
} from '../schemas.js';
import type { RegistryEndpoint } from '../../../services/registry-endpoint-service.js';
import { registryJson } from '../shapes/registry.js';

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

/** `src_registry` / `dest_registry`: a Registry object (only its id counts) or null; 0 is this registry. */
function registryRef(field: string) {
  const badId = `${field}.id must be a registry id (0 for this registry)`;
  return z
    .object(
      {
        id: z.number({ error: badId }).int(badId).min(0, badId).max(Number.MAX_SAFE_INTEGER, badId).nullish(),
      },
      { error: `${field} must be a registry object ({"id": …}) or null` },
    )
    .nullish();
}

/** Harbor's ReplicationFilter; its fields are checked by the policy service. */
const filterShape = z.object(
  { type: serviceChecked, value: serviceChecked, decoration: serviceChecked },
  { error: 'each filter must be an object {type, value, decoration}' },
);

/** Harbor's ReplicationTrigger: {type, trigger_settings: {cron}}; the service checks both. */
const triggerShape = z.object(
  {
    type: serviceChecked,
    trigger_settings: z
      .object({ cron: serviceChecked }, { error: 'trigger.trigger_settings must be an object {cron}' })
      .nullish(),
  },
  { error: 'trigger must be an object {type, trigger_settings: {cron}}' },
);

const policyBody = jsonBody({
  name: optionalString('name'),
  description: optionalString('description'),
  src_registry: registryRef('src_registry'),
  dest_registry: registryRef('dest_registry'),
  dest_namespace: optionalString('dest_namespace'),
  dest_namespace_replace_count: optionalInteger('dest_namespace_replace_count'),
  filters: z.array(filterShape, { error: 'filters must be a list' }).nullish(),
  trigger: triggerShape.nullish(),
  replicate_deletion: optionalBoolean('replicate_deletion'),
  deletion: optionalBoolean('deletion'),
  override: optionalBoolean('override'),
  speed: optionalInteger('speed'),
  enabled: optionalBoolean('enabled'),
  copy_by_chunk: optionalBoolean('copy_by_chunk'),
});

/** A side as the service takes it: undefined (not given), null (this registry) or an endpoint id. */
function side(ref: { id?: number | null | undefined } | null | undefined): number | null | undefined {
  if (ref === undefined) return undefined;
  return ref?.id ? ref.id : null;
}

function policyInput(body: z.output<typeof policyBody>): PolicyInput {
  const src = side(body.src_registry);
  const dest = side(body.dest_registry);
  const sidesGiven = src !== undefined || dest !== undefined;
  const trigger = body.trigger;
  return {
    name: body.name,
    description: body.description,
    ...(sidesGiven && { src_registry: src ?? null, dest_registry: dest ?? null }),
    dest_namespace: body.dest_namespace,
    dest_namespace_replace_count: body.dest_namespace_replace_count,
    filters: body.filters === null ? [] : body.filters,
    trigger:
      trigger === undefined || trigger === null
        ? trigger
        : { type: trigger.type, cron: trigger.trigger_settings?.cron },
    replicate_deletion: body.replicate_deletion ?? body.deletion,
    override: body.override,
    speed: body.speed,
    enabled: body.enabled,
    copy_by_chunk: body.copy_by_chunk,
  };
}

const policyParams = z.object({ id: pathId('id') });

export function registerReplicationPolicyRoutes(api: ApiInstance, policies: ReplicationPolicyService): void {
  // Permissions before the body: a caller who may not manage policies learns nothing from it.
  const adminFirst = async (request: { principal: Principal }) => policies.requireAdmin(request.principal);

  api.get(
    '/replication/policies',
    { schema: { querystring: z.object({ ...pageQuery, name: queryText }) } },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const q = parseHarborQuery(request.query.q);
      // `name=` is Harbor's deprecated filter (a fuzzy match there); `q=name=…` / `q=name=~…` the current one.
      const nameLike = q.fuzzy.name ?? request.query.name;
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
    },
  );

  api.post(
    '/replication/policies',
    { preValidation: adminFirst, schema: { body: policyBody } },
    async (request, reply) => {
      const created = await policies.create(request.principal, policyInput(request.body));
      reply.code(201).header('location', `/api/v2.0/replication/policies/${created.id}`).send();
    },
  );

  api.get('/replication/policies/:id', { schema: { params: policyParams } }, async (request, reply) => {
    reply.send(policyJson(request, await policies.get(request.principal, request.params.id)));
  });

  api.put(
    '/replication/policies/:id',
    { preValidation: adminFirst, schema: { params: policyParams, body: policyBody } },
    async (request, reply) => {
      await policies.update(request.principal, request.params.id, policyInput(request.body));
      reply.send();
    },
  );

  api.delete('/replication/policies/:id', { schema: { params: policyParams } }, async (request, reply) => {
    await policies.delete(request.principal, request.params.id);
    reply.send();
  });
}
