import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {
  ArtifactView,
  ArtifactViewOptions,
  CatalogApiService,
} from '../../../services/catalog-api-service.js';
import type { RepositoryListRow, TagRow } from '../../../metadata/artifacts-query.js';
import { labelJson } from '../labels/routes.js';
import { ApiError } from '../api-error.js';
import { objectBody, requiredString } from '../body.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { parseHarborQuery } from '../query.js';

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
function tagJson(t: TagRow) {
  return {
    id: 0,
    repository_id: t.repository_id,
    artifact_id: t.manifest_id,
    name: t.name,
    push_time: t.updated_at.toISOString(),
    pull_time: t.pull_time ? t.pull_time.toISOString() : ZERO_TIME,
    immutable: false,
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
 * The repository name in the path, without the project. Harbor's clients encode its slashes
 * twice (%252F), others once (%2F); the router has decoded one level already.
 */
function repositoryParam(request: FastifyRequest): string {
  const raw = (request.params as { repository: string }).repository;
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError('BAD_REQUEST', 'the repository name is not validly encoded');
  }
}

/** Project, repository (without the project) and reference of an artifact path. */
export function artifactPathParams(request: FastifyRequest) {
  const p = request.params as { project: string; reference?: string; tag?: string };
  return { project: p.project, repository: repositoryParam(request), reference: p.reference ?? '' };
}

function booleanQuery(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new ApiError('BAD_REQUEST', `${name} must be true or false`);
}

/** Harbor's with_tag (default true) and with_label (default false). */
function viewOptions(query: Record<string, unknown>): ArtifactViewOptions {
  return {
    withTag: booleanQuery(query.with_tag, 'with_tag', true),
    withLabel: booleanQuery(query.with_label, 'with_label', false),
  };
}

function repositoryFilter(query: Record<string, unknown>) {
  const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
  return {
    ...(q.exact.name !== undefined && { name: q.exact.name }),
    ...(q.fuzzy.name !== undefined && { nameLike: q.fuzzy.name }),
  };
}

export function registerRepositoryRoutes(api: FastifyInstance, catalog: CatalogApiService): void {
  api.get('/repositories', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const { items, total } = await catalog.listAllRepositories(
      request.principal,
      repositoryFilter(query),
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(repositoryJson));
  });

  api.get('/projects/:project/repositories', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const project = (request.params as { project: string }).project;
    const { items, total } = await catalog.listProjectRepositories(
      request.principal,
      project,
      repositoryFilter(query),
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(repositoryJson));
  });

  api.get('/projects/:project/repositories/:repository', async (request, reply) => {
    const p = artifactPathParams(request);
    reply.send(repositoryJson(await catalog.getRepository(request.principal, p.project, p.repository)));
  });

  api.put('/projects/:project/repositories/:repository', async (request, reply) => {
    const p = artifactPathParams(request);
    const body = objectBody(request.body);
    if (typeof body.description !== 'string')
      throw new ApiError('BAD_REQUEST', 'description must be a string');
    await catalog.updateRepositoryDescription(request.principal, p.project, p.repository, body.description);
    reply.send();
  });

  api.delete('/projects/:project/repositories/:repository', async (request, reply) => {
    const p = artifactPathParams(request);
    await catalog.deleteRepository(request.principal, p.project, p.repository);
    reply.send();
  });

  api.get('/projects/:project/repositories/:repository/artifacts', async (request, reply) => {
    const p = artifactPathParams(request);
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
    // with_scan_overview, with_signature ... are accepted; Wharf has nothing to add for them.
    const { items, total } = await catalog.listArtifacts(
      request.principal,
      p.project,
      p.repository,
      {
        ...(q.exact.tags !== undefined && { tag: q.exact.tags }),
        ...(q.fuzzy.tags !== undefined && { tagLike: q.fuzzy.tags }),
        ...(q.exact.base === '*' && { all: true }),
      },
      viewOptions(query),
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(artifactJson));
  });

  api.get('/projects/:project/repositories/:repository/artifacts/:reference', async (request, reply) => {
    const p = artifactPathParams(request);
    const options = viewOptions(request.query as Record<string, unknown>);
    reply.send(
      artifactJson(
        await catalog.getArtifact(request.principal, p.project, p.repository, p.reference, options),
      ),
    );
  });

  api.delete('/projects/:project/repositories/:repository/artifacts/:reference', async (request, reply) => {
    const p = artifactPathParams(request);
    await catalog.deleteArtifact(request.principal, p.project, p.repository, p.reference);
    reply.send();
  });

  api.get('/projects/:project/repositories/:repository/artifacts/:reference/tags', async (request, reply) => {
    const p = artifactPathParams(request);
    const query = request.query as Record<string, unknown>;
    const page = pageRequest(query);
    const q = parseHarborQuery(typeof query.q === 'string' ? query.q : undefined);
    const { items, total } = await catalog.listTags(
      request.principal,
      p.project,
      p.repository,
      p.reference,
      q.fuzzy.name ?? q.exact.name,
      page.offset,
      page.pageSize,
    );
    setPageHeaders(request, reply, page, total);
    reply.send(items.map(tagJson));
  });

  api.post(
    '/projects/:project/repositories/:repository/artifacts/:reference/tags',
    async (request, reply) => {
      const p = artifactPathParams(request);
      const name = requiredString(objectBody(request.body), 'name');
      await catalog.createTag(request.principal, p.project, p.repository, p.reference, name);
      reply.code(201).send();
    },
  );

  api.delete(
    '/projects/:project/repositories/:repository/artifacts/:reference/tags/:tag',
    async (request, reply) => {
      const p = artifactPathParams(request);
      const tag = (request.params as { tag: string }).tag;
      await catalog.deleteTag(request.principal, p.project, p.repository, p.reference, tag);
      reply.send();
    },
  );
}
