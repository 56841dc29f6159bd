import { z } from 'zod';
import type { ArtifactView, ArtifactViewOptions, TagView } from '../../../services/catalog-api-service.js';
import type { RepositoryListRow } from '../../../services/repository-views.js';
import { labelJson } from '../shapes/label.js';
import { apiArea, type ApiInstance } from '../area.js';
import type { ApiDeps } from '../plugin.js';
import { artifactParams, artifactPath, repositoryParams } from '../artifact-path.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';
import { booleanQuery, jsonBody, pageQuery, requiredString } from '../schemas.js';

// /api/v2.0/projects/{project_name}/repositories[/{repository_name}[/artifacts[/{reference}[/tags]]]]
// and /api/v2.0/repositories: Harbor's paths, JSON field names and status codes.

/** Harbor's zero time: never pulled. */
const ZERO_TIME = '0001-01-01T00:00:00.000Z';

export function repositoryJson(r: RepositoryListRow) {
  return {
    id: r.id,
    project_id: r.project_id,
    name: r.name,
    description: r.description,
    artifact_count: r.artifact_count,
    pull_count: r.pull_count,
    creation_time: r.created_at.toISOString(),
    update_time: r.updated_at.toISOString(),
  };
}

// Tags have no id of their own in Wharf's schema (their key is repository + name): id is 0.
function tagJson(t: TagView) {
  return {
    id: 0,
    repository_id: t.repository_id,
    artifact_id: t.manifest_id,
    name: t.name,
    push_time: t.updated_at.toISOString(),
    pull_time: t.pull_time ? t.pull_time.toISOString() : ZERO_TIME,
    immutable: t.immutable,
  };
}

function artifactJson(a: ArtifactView) {
  return {
    id: a.row.id,
    type: a.type,
    media_type: a.mediaType,
    manifest_media_type: a.row.media_type,
    artifact_type: a.row.artifact_type ?? a.mediaType,
    project_id: a.projectId,
    repository_id: a.row.repository_id,
    repository_name: a.repositoryName,
    digest: a.row.digest,
    size: a.size,
    icon: '',
    push_time: a.row.created_at.toISOString(),
    pull_time: a.row.pull_time ? a.row.pull_time.toISOString() : ZERO_TIME,
    extra_attrs: {},
    annotations: a.row.annotations ?? {},
    references: a.references.map((r) => ({
      parent_id: r.parentId,
      child_id: r.childId,
      child_digest: r.childDigest,
      platform: r.platform,
    })),
    ...(a.tags !== null && { tags: a.tags.map(tagJson) }),
    // As Harbor: null unless the caller asked with_label=true.
    labels: a.labels === null ? null : a.labels.map(labelJson),
    accessories: [],
  };
}

/**
 * Harbor's with_tag (default true), with_label and with_immutable_status (default false);
 * with_scan_overview ... are accepted and ignored.
 */
const viewQuery = {
  with_tag: booleanQuery('with_tag', true),
  with_label: booleanQuery('with_label', false),
  with_immutable_status: booleanQuery('with_immutable_status', false),
};

function viewOptions(query: {
  with_tag: boolean;
  with_label: boolean;
  with_immutable_status: boolean;
}): ArtifactViewOptions {
  return {
    withTag: query.with_tag,
    withLabel: query.with_label,
    withImmutableStatus: query.with_immutable_status,
  };
}

function repositoryFilter(q: string | undefined) {
  const query = parseHarborQuery(q);
  return {
    ...(query.exact.name !== undefined && { name: query.exact.name }),
    ...(query.fuzzy.name !== undefined && { nameLike: query.fuzzy.name }),
  };
}

type Deps = Pick<ApiDeps, 'catalog' | 'artifacts'>;

const REPOSITORY = '/projects/:project_name/repositories/:repository_name';
const ARTIFACT = `${REPOSITORY}/artifacts/:reference`;
const listQuery = z.object(pageQuery);

function registerRepositoryRoutes(api: ApiInstance, { catalog, artifacts }: Deps): void {
  api.get('/repositories', { schema: { querystring: listQuery } }, async (request, reply) => {
    const page = pageRequest(request.query);
    const { items, total } = await catalog.listAllRepositories(
      request.principal,
      repositoryFilter(request.query.q),
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(repositoryJson));
  });

  api.get(
    '/projects/:project_name/repositories',
    { schema: { params: z.object({ project_name: z.string() }), querystring: listQuery } },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const { items, total } = await catalog.listProjectRepositories(
        request.principal,
        request.params.project_name,
        repositoryFilter(request.query.q),
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(repositoryJson));
    },
  );

  api.get(REPOSITORY, { schema: { params: repositoryParams } }, async (request, reply) => {
    const { project_name: project, repository_name: repository } = request.params;
    reply.send(repositoryJson(await catalog.getRepository(request.principal, project, repository)));
  });

  api.put(
    REPOSITORY,
    {
      schema: {
        params: repositoryParams,
        body: jsonBody({ description: z.string({ error: 'description must be a string' }) }),
      },
    },
    async (request, reply) => {
      const { project_name: project, repository_name: repository } = request.params;
      await catalog.updateRepositoryDescription(
        request.principal,
        project,
        repository,
        request.body.description,
      );
      reply.send();
    },
  );

  api.delete(REPOSITORY, { schema: { params: repositoryParams } }, async (request, reply) => {
    const { project_name: project, repository_name: repository } = request.params;
    await artifacts.deleteRepository(request.principal, project, repository);
    reply.send();
  });
}

function registerArtifactRoutes(api: ApiInstance, { catalog, artifacts }: Deps): void {
  api.get(
    `${REPOSITORY}/artifacts`,
    { schema: { params: repositoryParams, querystring: z.object({ ...pageQuery, ...viewQuery }) } },
    async (request, reply) => {
      const { project_name: project, repository_name: repository } = request.params;
      const page = pageRequest(request.query);
      const q = parseHarborQuery(request.query.q);
      const { items, total } = await catalog.listArtifacts(
        request.principal,
        project,
        repository,
        {
          ...(q.exact.tags !== undefined && { tag: q.exact.tags }),
          ...(q.fuzzy.tags !== undefined && { tagLike: q.fuzzy.tags }),
          ...(q.exact.base === '*' && { all: true }),
        },
        viewOptions(request.query),
        page.offset,
        page.pageSize,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(artifactJson));
    },
  );

  api.get(
    ARTIFACT,
    { schema: { params: artifactParams, querystring: z.object(viewQuery) } },
    async (request, reply) => {
      const p = artifactPath(request.params);
      const options = viewOptions(request.query);
      reply.send(
        artifactJson(
          await catalog.getArtifact(request.principal, p.project, p.repository, p.reference, options),
        ),
      );
    },
  );

  api.delete(ARTIFACT, { schema: { params: artifactParams } }, async (request, reply) => {
    const p = artifactPath(request.params);
    await artifacts.deleteArtifact(request.principal, p.project, p.repository, p.reference);
    reply.send();
  });
}

function registerTagRoutes(api: ApiInstance, { catalog, artifacts }: Deps): void {
  api.get(
    `${ARTIFACT}/tags`,
    {
      schema: {
        params: artifactParams,
        querystring: z.object({
          ...pageQuery,
          with_immutable_status: viewQuery.with_immutable_status,
        }),
      },
    },
    async (request, reply) => {
      const p = artifactPath(request.params);
      const page = pageRequest(request.query);
      const q = parseHarborQuery(request.query.q);
      const { items, total } = await catalog.listTags(
        request.principal,
        p.project,
        p.repository,
        p.reference,
        q.fuzzy.name ?? q.exact.name,
        page.offset,
        page.pageSize,
        request.query.with_immutable_status,
      );
      setPageHeaders(request, reply, page, total);
      reply.send(items.map(tagJson));
    },
  );

  api.post(
    `${ARTIFACT}/tags`,
    { schema: { params: artifactParams, body: jsonBody({ name: requiredString('name') }) } },
    async (request, reply) => {
      const p = artifactPath(request.params);
      await artifacts.createTag(request.principal, p.project, p.repository, p.reference, request.body.name);
      reply.code(201).send();
    },
  );

  api.delete(
    `${ARTIFACT}/tags/:tag_name`,
    { schema: { params: artifactParams.extend({ tag_name: z.string() }) } },
    async (request, reply) => {
      const p = artifactPath(request.params);
      await artifacts.deleteTag(
        request.principal,
        p.project,
        p.repository,
        p.reference,
        request.params.tag_name,
      );
      reply.send();
    },
  );
}

/** Reads come from the catalog, writes go through the artifact core. */
export const repositoriesArea = apiArea('repositories', ['catalog', 'artifacts'], (api, deps) => {
  registerRepositoryRoutes(api, deps);
  registerArtifactRoutes(api, deps);
  registerTagRoutes(api, deps);
});
