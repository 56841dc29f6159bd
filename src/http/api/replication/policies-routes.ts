import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../../services/principal.js';
import type { PolicyView, ReplicationPolicyService } from '../../../services/replication-policy-service.js';
import type { ApiInstance } from '../area.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';
import { pageQuery, pathId, queryText } from '../schemas.js';
import type { RegistryEndpoint } from '../../../services/registry-endpoint-service.js';
import { registryJson } from '../shapes/registry.js';
import { newPolicy, newPolicyBody, policyChanges, policyChangesBody } from './policy-body.js';

// /api/v2.0/replication/policies and /replication/policies/{id} in Harbor's shapes
// (ReplicationPolicy, ReplicationFilter, ReplicationTrigger, Registry); bodies in policy-body.ts.
// As in Harbor, a response shows this registry as the registry {id: 0, name: "Local"}, and
// `deletion` (Harbor's deprecated name of `replicate_deletion`) is written along with it.
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
    { preValidation: adminFirst, schema: { body: newPolicyBody } },
    async (request, reply) => {
      const created = await policies.create(request.principal, newPolicy(request.body));
      reply.code(201).header('location', `/api/v2.0/replication/policies/${created.id}`).send();
    },
  );

  api.get('/replication/policies/:id', { schema: { params: policyParams } }, async (request, reply) => {
    reply.send(policyJson(request, await policies.get(request.principal, request.params.id)));
  });

  api.put(
    '/replication/policies/:id',
    { preValidation: adminFirst, schema: { params: policyParams, body: policyChangesBody } },
    async (request, reply) => {
      await policies.update(request.principal, request.params.id, policyChanges(request.body));
      reply.send();
    },
  );

  api.delete('/replication/policies/:id', { schema: { params: policyParams } }, async (request, reply) => {
    await policies.delete(request.principal, request.params.id);
    reply.send();
  });
}
