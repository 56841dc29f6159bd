import { z } from 'zod';
import type { AuditFilter, AuditRow } from '../../../services/audit-service.js';
import { isSignedIn, type Principal } from '../../../services/principal.js';
import { apiArea } from '../area.js';
import { ApiError } from '../api-error.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { isResourceName, projectParams } from '../project-ref.js';
import { pageQuery } from '../schemas.js';
import { auditFilterOf } from './filter.js';

// The audit log's API, read through the audit service. Harbor's two shapes: /audit-logs (the
// original entry) and /auditlog-exts (with operation_description and operation_result), each
// system-wide for system administrators and per project (/projects/{p}/logs, /auditlog-exts) for
// members allowed to list logs; /auditlog-exts/events lists the event types. Entries are written
// by the audit consumer of the outbox, so an entry appears once its event is dispatched.

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

function auditExtJson(row: AuditRow) {
  return {
    ...auditJson(row),
    project_id: row.project_id ?? 0,
    operation_description: row.operation_description,
    operation_result: row.operation_result,
  };
}

const listQuery = z.object({
  ...pageQuery,
  sort: z
    .enum(['op_time', '-op_time', ''], { error: 'sort must be op_time or -op_time' })
    .optional()
    .transform((v) => v === 'op_time'),
});

const projectNameParams = z.object({ project_name: z.string() });

function requireSysadmin(principal: Principal, isSysadmin: boolean): void {
  if (isSysadmin) return;
  throw new ApiError(
    isSignedIn(principal) ? 'FORBIDDEN' : 'UNAUTHORIZED',
    'the system audit log is for system administrators',
  );
}

export const auditArea = apiArea(
  'audit',
  ['audit', 'access', 'projects'],
  (api, { audit, access, projects }) => {
    type Query = z.output<typeof listQuery>;
    const page = async (query: Query, filter: AuditFilter) => {
      const request = pageRequest(query);
      const result = await audit.list(
        { ...auditFilterOf(query.q), ...filter },
        request.offset,
        request.pageSize,
        {
          oldestFirst: query.sort,
        },
      );
      return { request, ...result };
    };
    /** A project's log: the caller must see the project and be allowed to list its logs. */
    const projectLog = async (principal: Principal, ref: string, forceName: boolean) => {
      const project = await projects.visible(principal, ref, forceName);
      await projects.require(principal, project, 'log', 'list');
      return project;
    };

    api.get('/audit-logs', { schema: { querystring: listQuery } }, async (request, reply) => {
      requireSysadmin(request.principal, access.isSysadmin(request.principal));
      const { request: p, items, total } = await page(request.query, {});
      setPageHeaders(request, reply, p, total);
      reply.send(items.map(auditJson));
    });

    api.get(
      '/projects/:project_name_or_id/logs',
      { schema: { params: projectParams, querystring: listQuery } },
      async (request, reply) => {
        const ref = request.params.project_name_or_id;
        const project = await projectLog(request.principal, ref, isResourceName(request.headers));
        const { request: p, items, total } = await page(request.query, { projectId: project.id });
        setPageHeaders(request, reply, p, total);
        reply.send(items.map(auditJson));
      },
    );

    api.get('/auditlog-exts', { schema: { querystring: listQuery } }, async (request, reply) => {
      requireSysadmin(request.principal, access.isSysadmin(request.principal));
      const { request: p, items, total } = await page(request.query, {});
      setPageHeaders(request, reply, p, total);
      reply.send(items.map(auditExtJson));
    });

    api.get('/auditlog-exts/events', async (request, reply) => {
      if (!isSignedIn(request.principal)) throw new ApiError('UNAUTHORIZED', 'authentication required');
      reply.send(audit.eventTypes().map((eventType) => ({ event_type: eventType })));
    });

    api.get(
      '/projects/:project_name/auditlog-exts',
      { schema: { params: projectNameParams, querystring: listQuery } },
      async (request, reply) => {
        // Harbor names the project here by name only.
        const project = await projectLog(request.principal, request.params.project_name, true);
        const { request: p, items, total } = await page(request.query, { projectId: project.id });
        setPageHeaders(request, reply, p, total);
        reply.send(items.map(auditExtJson));
      },
    );
  },
);
