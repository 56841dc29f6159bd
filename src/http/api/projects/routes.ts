import { z } from 'zod';
import { isSignedIn } from '../../../services/principal.js';
import { projectJson } from '../shapes/project.js';
import { apiArea, type ApiInstance } from '../area.js';
import { ApiError } from '../api-error.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';
import { pageQuery, pathSegment, queryText, requiredString } from '../schemas.js';
import { createProjectBody, metadataMap, newProject, projectUpdate, updateProjectBody } from './bodies.js';
import type { ApiDeps } from '../plugin.js';
import { projectOf as visibleProject, projectParams, type ProjectAddressed } from '../project-ref.js';

// /api/v2.0/projects, Harbor-compatible paths, JSON field names and status codes.

const listProjectsQuery = z.object({
  ...pageQuery,
  name: queryText,
  public: queryText,
  owner: queryText,
  with_detail: queryText,
});

type Deps = Pick<ApiDeps, 'projects'>;

function registerProjectCollection(api: ApiInstance, deps: Deps): void {
  api.post('/projects', { schema: { body: createProjectBody } }, async (request, reply) => {
    const project = await deps.projects.create(request.principal, newProject(request.body));
    reply.code(201).header('location', `/api/v2.0/projects/${project.id}`).send();
  });

  api.head(
    '/projects',
    {
      schema: { querystring: z.object({ project_name: requiredString('project_name') }) },
      config: { swagger: { exposeHeadRoute: true } },
    },
    async (request, reply) => {
      if (!isSignedIn(request.principal)) throw new ApiError('UNAUTHORIZED', 'authentication required');
      // 200 only for a project the caller may see: a private one answers as a missing one.
      const found = await deps.projects.findVisible(request.principal, request.query.project_name, true);
      reply.code(found ? 200 : 404).send();
    },
  );

  api.get('/projects', { schema: { querystring: listProjectsQuery } }, async (request, reply) => {
    const query = request.query;
    const page = pageRequest(query);
    const q = parseHarborQuery(query.q);
    const exactName = query.name ?? q.exact.name;
    const publicFilter = query.public ?? q.exact.public;
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
}

function registerProjectItem(api: ApiInstance, deps: Deps): void {
  const schema = { params: projectParams };

  api.get('/projects/:project_name_or_id', { schema }, async (request, reply) => {
    const project = await visibleProject(deps.projects, request);
    reply.send(projectJson(await deps.projects.view(request.principal, project)));
  });

  api.put(
    '/projects/:project_name_or_id',
    { schema: { params: projectParams, body: updateProjectBody } },
    async (request, reply) => {
      const project = await visibleProject(deps.projects, request);
      await deps.projects.update(request.principal, project, projectUpdate(request.body));
      reply.send();
    },
  );

  api.delete('/projects/:project_name_or_id', { schema }, async (request, reply) => {
    const project = await visibleProject(deps.projects, request);
    await deps.projects.delete(request.principal, project);
    reply.send();
  });
}

const metaParams = projectParams.extend({ meta_name: pathSegment });

/** /projects/{p}/summary and /projects/{p}/metadatas[/{meta_name}]. */
function registerProjectDetails(api: ApiInstance, deps: Deps): void {
  const { projects } = deps;
  const projectOf = (request: ProjectAddressed) => visibleProject(projects, request);

  api.get(
    '/projects/:project_name_or_id/summary',
    { schema: { params: projectParams } },
    async (request, reply) => {
      const project = await projectOf(request);
      const summary = await projects.summary(request.principal, project);
      reply.send({
        repo_count: summary.repoCount,
        project_admin_count: summary.roleCounts[1] ?? 0,
        developer_count: summary.roleCounts[2] ?? 0,
        guest_count: summary.roleCounts[3] ?? 0,
        maintainer_count: summary.roleCounts[4] ?? 0,
        limited_guest_count: summary.roleCounts[5] ?? 0,
        quota: { hard: { storage: summary.storageLimit }, used: { storage: summary.storageBytes } },
      });
    },
  );

  api.get(
    '/projects/:project_name_or_id/metadatas',
    { schema: { params: projectParams } },
    async (request, reply) => {
      const project = await projectOf(request);
      await projects.require(request.principal, project, 'metadata', 'read');
      reply.send((await projects.view(request.principal, project)).metadata);
    },
  );

  api.post(
    '/projects/:project_name_or_id/metadatas',
    { schema: { params: projectParams, body: metadataMap('the request body') } },
    async (request, reply) => {
      const project = await projectOf(request);
      await projects.setMetadata(request.principal, project, request.body);
      reply.send();
    },
  );

  api.get(
    '/projects/:project_name_or_id/metadatas/:meta_name',
    { schema: { params: metaParams } },
    async (request, reply) => {
      const project = await projectOf(request);
      await projects.require(request.principal, project, 'metadata', 'read');
      const name = request.params.meta_name;
      const metadata = (await projects.view(request.principal, project)).metadata;
      if (metadata[name] === undefined) throw new ApiError('NOT_FOUND', `metadata ${name} not found`);
      reply.send({ [name]: metadata[name] });
    },
  );

  api.put(
    '/projects/:project_name_or_id/metadatas/:meta_name',
    { schema: { params: metaParams, body: metadataMap('the request body') } },
    async (request, reply) => {
      const project = await projectOf(request);
      const name = request.params.meta_name;
      const body = request.body;
      if (Object.keys(body).length !== 1 || body[name] === undefined) {
        throw new ApiError('BAD_REQUEST', `the body must be {"${name}": value}`);
      }
      await projects.setMetadata(request.principal, project, body);
      reply.send();
    },
  );

  api.delete(
    '/projects/:project_name_or_id/metadatas/:meta_name',
    { schema: { params: metaParams } },
    async (request, reply) => {
      const project = await projectOf(request);
      await projects.deleteMetadata(request.principal, project, request.params.meta_name);
      reply.send();
    },
  );
}

export const projectsArea = apiArea('projects', ['projects'], (api, deps) => {
  registerProjectCollection(api, deps);
  registerProjectItem(api, deps);
  registerProjectDetails(api, deps);
});
