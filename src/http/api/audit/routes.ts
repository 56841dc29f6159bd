import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditFilter, AuditRow } from '../../../metadata/audit-table.js';
import { listAuditEntries } from '../../../metadata/audit-table.js';
import type { Database } from '../../../metadata/database.js';
import type { AccessService } from '../../../services/access-service.js';
import type { AuditService } from '../../../services/audit-service.js';
import type { ProjectService } from '../../../services/project-service.js';
import { isSignedIn, principalName } from '../../../services/principal.js';
import { ApiError } from '../api-error.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';

// The audit log's API (/audit-logs for system administrators, /projects/{p}/logs for members
// allowed to list logs) and the hook that records every successful change made through the API.

function auditJson(row: AuditRow) {
  return {
    id: row.id,
    username: row.operator,
    resource: row.resource,
    resource_type: row.resource_type,
    operation: row.operation,
    op_time: row.op_time.toISOString(),
  };
}

const EARLIEST_TIME = Date.UTC(-4712, 0, 1);
const LATEST_TIME = Date.UTC(294276, 0, 1);

function filterFrom(query: Record<string, unknown>): AuditFilter {
  const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
  const date = (value: string | undefined, name: string): Date | undefined => {
    if (value === undefined) return undefined;
    const d = new Date(value);
    // PostgreSQL's timestamptz holds 4713 BC to 294276 AD; JavaScript dates reach further.
    if (Number.isNaN(d.getTime()) || d.getTime() < EARLIEST_TIME || d.getTime() > LATEST_TIME) {
      throw new ApiError('BAD_REQUEST', `${name} is not a valid time`);
    }
    return d;
  };
  const from = date(q.range.op_time?.min, 'op_time');
  const to = date(q.range.op_time?.max, 'op_time');
  const resourceLike = q.fuzzy.resource ?? q.exact.resource;
  return {
    ...(q.exact.operation !== undefined && { operation: q.exact.operation }),
    ...(q.exact.resource_type !== undefined && { resourceType: q.exact.resource_type }),
    ...(resourceLike !== undefined && { resourceLike }),
    ...(q.exact.username !== undefined && { operator: q.exact.username }),
    ...(from && { from }),
    ...(to && { to }),
  };
}

const RESOURCE_TYPES: Record<string, string> = {
  users: 'user',
  projects: 'project',
  members: 'member',
  metadatas: 'project_metadata',
  robots: 'robot',
  repositories: 'repository',
  artifacts: 'artifact',
  tags: 'tag',
  // /labels and .../artifacts/{reference}/labels (attach, detach).
  labels: 'label',
  registries: 'registry',
  // /replication/policies (the only "policies" collection so far; webhook and preheat policies
  // will need their parent segment to tell them apart).
  policies: 'replication_policy',
};

const OPERATIONS: Record<string, string> = {
  POST: 'create',
  PUT: 'update',
  PATCH: 'update',
  DELETE: 'delete',
};

export function registerAuditRoutes(
  api: FastifyInstance,
  deps: { db: Database; audit: AuditService; access: AccessService; projects: ProjectService },
): void {
  // Every successful change through the API is recorded, in one place, whatever the resource.
  api.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const operation = OPERATIONS[request.method];
    if (!operation || reply.statusCode >= 300) return;
    const path = (request.url.split('?', 1)[0] as string).replace(/^\/api\/v2\.0/, '');
    const segments = path.split('/').filter(Boolean);
    // A ping (POST /registries/ping) checks a peer and changes nothing.
    if (segments[segments.length - 1] === 'ping') return;
    const collection = [...segments].reverse().find((s) => s in RESOURCE_TYPES);
    if (!collection) return;
    let projectId: number | null = null;
    if (segments[0] === 'projects' && segments[1]) {
      const ref = decodeURIComponent(segments[1]);
      const facts = /^\d+$/.test(ref)
        ? await deps.access.projectById(Number(ref))
        : await deps.access.project(ref);
      projectId = facts?.id ?? null;
    }
    await deps.audit
      .record({
        projectId,
        operator: principalName(request.principal),
        resourceType: RESOURCE_TYPES[collection] as string,
        resource: path,
        operation,
        clientIp: request.ip,
      })
      .catch((err: unknown) => request.log.warn({ err }, 'audit record failed'));
  });

  api.get('/audit-logs', async (request, reply) => {
    if (!deps.access.isSysadmin(request.principal)) {
      throw new ApiError(
        isSignedIn(request.principal) ? 'FORBIDDEN' : 'UNAUTHORIZED',
        'the audit log is for system administrators',
      );
    }
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    await deps.audit.flush();
    const { items, total } = await listAuditEntries(deps.db, filterFrom(query), page.offset, page.pageSize);
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(auditJson));
  });

  api.get('/projects/:project/logs', async (request, reply) => {
    const ref = (request.params as { project: string }).project;
    const project = await deps.projects.visible(
      request.principal,
      ref,
      request.headers['x-is-resource-name'] === 'true',
    );
    await deps.projects.require(request.principal, project, 'log', 'list');
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    await deps.audit.flush();
    const { items, total } = await listAuditEntries(
      deps.db,
      { ...filterFrom(query), projectId: project.id },
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(auditJson));
  });
}
