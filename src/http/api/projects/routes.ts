import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isSignedIn } from '../../../services/principal.js';
import type { ProjectView } from '../../../services/project-service.js';
import type { ApiDeps } from '../plugin.js';
import { ApiError } from '../api-error.js';
import { objectBody } from '../body.js';
import { checkProjectRequestEnforceable } from '../../../services/project-settings.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';

// /api/v2.0/projects, Harbor-compatible paths, JSON field names and status codes.

export function projectJson(view: ProjectView) {
  return {
    project_id: view.id,
    name: view.name,
    owner_id: view.owner_id ?? 0,
    owner_name: '',
    creation_time: view.created_at.toISOString(),
    update_time: view.updated_at.toISOString(),
    deleted: false,
    repo_count: view.repoCount,
    current_user_role_id: view.currentUserRole ?? 0,
    current_user_role_ids: view.currentUserRole ? [view.currentUserRole] : [],
    registry_id: 0,
    togglable: true,
    metadata: view.metadata,
  };
}

/** Harbor lets `{project_name_or_id}` be either; X-Is-Resource-Name: true forces a name. */
function projectRef(request: FastifyRequest): { ref: string; forceName: boolean } {
  const ref = (request.params as { project: string }).project;
  return { ref, forceName: request.headers['x-is-resource-name'] === 'true' };
}

interface CreateProjectBody {
  project_name?: unknown;
  public?: unknown;
  metadata?: unknown;
}

function metadataOf(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  return objectBody(value);
}

export function registerProjectRoutes(api: FastifyInstance, deps: ApiDeps): void {
  api.post('/projects', async (request, reply) => {
    const body = objectBody(request.body) as CreateProjectBody;
    if (typeof body.project_name !== 'string') throw new ApiError('BAD_REQUEST', 'project_name is required');
    checkProjectRequestEnforceable(body as Record<string, unknown>);
    const metadata = metadataOf(body.metadata);
    // Harbor's older clients send a top-level boolean `public`.
    if (typeof body.public === 'boolean' && metadata.public === undefined)
      metadata.public = String(body.public);
    const project = await deps.projects.create(request.principal, body.project_name, metadata);
    reply.code(201).header('location', `/api/v2.0/projects/${project.id}`).send();
  });

  api.head('/projects', async (request, reply) => {
    const name = (request.query as Record<string, unknown>).project_name;
    if (typeof name !== 'string' || name === '')
      throw new ApiError('BAD_REQUEST', 'project_name is required');
    if (!isSignedIn(request.principal)) throw new ApiError('UNAUTHORIZED', 'authentication required');
    // 200 only for a project the caller may see: a private one answers as a missing one.
    const found = await deps.projects.findVisible(request.principal, name, true);
    reply.code(found ? 200 : 404).send();
  });

  api.get('/projects', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
    const exactName = typeof query.name === 'string' && query.name !== '' ? query.name : q.exact.name;
    const publicFilter = typeof query.public === 'string' ? query.public : q.exact.public;
    const { items, total } = await deps.projects.list(
      request.principal,
      {
        ...(exactName !== undefined && { name: exactName }),
        ...(q.fuzzy.name !== undefined && { nameLike: q.fuzzy.name }),
        ...(publicFilter !== undefined && { public: publicFilter === 'true' }),
      },
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    const views = [];
    for (const project of items)
      views.push(projectJson(await deps.projects.view(request.principal, project)));
    reply.send(views);
  });

  api.get('/projects/:project', async (request, reply) => {
    const { ref, forceName } = projectRef(request);
    const project = await deps.projects.visible(request.principal, ref, forceName);
    reply.send(projectJson(await deps.projects.view(request.principal, project)));
  });

  api.put('/projects/:project', async (request, reply) => {
    const { ref, forceName } = projectRef(request);
    const project = await deps.projects.visible(request.principal, ref, forceName);
    const body = objectBody(request.body);
    checkProjectRequestEnforceable(body);
    await deps.projects.updateMetadata(request.principal, project, metadataOf(body.metadata));
    reply.send();
  });

  api.delete('/projects/:project', async (request, reply) => {
    const { ref, forceName } = projectRef(request);
    const project = await deps.projects.visible(request.principal, ref, forceName);
    await deps.projects.delete(request.principal, project);
    reply.send();
  });
}

/** /projects/{p}/summary and /projects/{p}/metadatas[/{name}]. */
export function registerProjectDetailRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const projectOf = (request: FastifyRequest) => {
    const { ref, forceName } = projectRef(request);
    return deps.projects.visible(request.principal, ref, forceName);
  };

  api.get('/projects/:project/summary', async (request, reply) => {
    const project = await projectOf(request);
    const summary = await deps.projects.summary(request.principal, project);
    reply.send({
      repo_count: summary.repoCount,
      project_admin_count: summary.roleCounts[1] ?? 0,
      developer_count: summary.roleCounts[2] ?? 0,
      guest_count: summary.roleCounts[3] ?? 0,
      maintainer_count: summary.roleCounts[4] ?? 0,
      limited_guest_count: summary.roleCounts[5] ?? 0,
      quota: { hard: { storage: -1 }, used: { storage: summary.storageBytes } },
    });
  });

  api.get('/projects/:project/metadatas', async (request, reply) => {
    const project = await projectOf(request);
    await deps.projects.require(request.principal, project, 'metadata', 'read');
    reply.send((await deps.projects.view(request.principal, project)).metadata);
  });

  api.post('/projects/:project/metadatas', async (request, reply) => {
    const project = await projectOf(request);
    await deps.projects.setMetadata(request.principal, project, objectBody(request.body));
    reply.send();
  });

  api.get('/projects/:project/metadatas/:name', async (request, reply) => {
    const project = await projectOf(request);
    await deps.projects.require(request.principal, project, 'metadata', 'read');
    const name = (request.params as { name: string }).name;
    const metadata = (await deps.projects.view(request.principal, project)).metadata;
    if (metadata[name] === undefined) throw new ApiError('NOT_FOUND', `metadata ${name} not found`);
    reply.send({ [name]: metadata[name] });
  });

  api.put('/projects/:project/metadatas/:name', async (request, reply) => {
    const project = await projectOf(request);
    const name = (request.params as { name: string }).name;
    const body = objectBody(request.body);
    if (Object.keys(body).length !== 1 || body[name] === undefined) {
      throw new ApiError('BAD_REQUEST', `the body must be {"${name}": value}`);
    }
    await deps.projects.setMetadata(request.principal, project, body);
    reply.send();
  });

  api.delete('/projects/:project/metadatas/:name', async (request, reply) => {
    const project = await projectOf(request);
    await deps.projects.deleteMetadata(request.principal, project, (request.params as { name: string }).name);
    reply.send();
  });
}
