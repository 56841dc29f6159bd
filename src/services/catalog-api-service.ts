import { RegistryError } from '../domain/errors.js';
import type { Action, Resource } from '../domain/rbac.js';
import {
  findArtifactByDigest,
  findArtifactByTag,
  listArtifacts,
  listRepositories,
  listTagsOfManifest,
  repositoryCountsByProject,
  searchRepositories,
  setRepositoryDescription,
  totalStoredBytes,
  type ArtifactFilter,
  type ArtifactRow,
  type ProjectScope,
  type RepositoryFilter,
  type RepositoryListRow,
} from '../metadata/artifacts-query.js';
import type { Database } from '../metadata/database.js';
import type { ProjectRow } from '../metadata/projects-table.js';
import { recordEvent } from '../metadata/outbox-table.js';
import type { AccessService } from './access-service.js';
import { adminEvent, changesOf } from './audit/admin-events.js';
import { type Principal, requireSignedIn } from './principal.js';
import type { ProjectService } from './project-service.js';
import type { ManifestService } from './registry/manifest-service.js';
import { parseManifestReference } from './registry/validate.js';
import type { RepositoryScope } from './artifacts/repository-scope.js';
import { ServiceError } from './service-error.js';
import {
  artifactViews,
  tagViews,
  type ArtifactView,
  type ArtifactViewOptions,
  type TagView,
} from './artifacts/artifact-views.js';

// The management API's view of registry content (Harbor's repositories, artifacts, tags, search
// and statistics): reads and listings only. Every decision goes through ProjectService.visible/
// require. Writes of content go through the artifact core (services/artifacts/); the one write
// here, a repository's description, is not content.

export type { ArtifactView, ArtifactViewOptions, TagView } from './artifacts/artifact-views.js';

/** An artifact found for a caller allowed to act on it, with its project and repository. */
export interface ResolvedArtifact {
  project: ProjectRow;
  repository: RepositoryListRow;
  artifact: ArtifactRow;
}

export interface SearchResult {
  projects: ProjectRow[];
  repositories: Array<{ row: RepositoryListRow; project: ProjectRow }>;
}

export interface Statistics {
  privateProjects: number;
  publicProjects: number;
  privateRepositories: number;
  publicRepositories: number;
  /** Only for system administrators. */
  totals: { projects: number; repositories: number; storageBytes: number } | null;
}

const SEARCH_LIMIT = 100;

export class CatalogApiService {
  constructor(
    private readonly db: Database,
    private readonly projects: ProjectService,
    private readonly access: AccessService,
    private readonly manifests: ManifestService,
    private readonly scopes: RepositoryScope,
  ) {}

  // --- repositories -------------------------------------------------------------------------

  async listProjectRepositories(
    principal: Principal,
    projectName: string,
    filter: RepositoryFilter,
    offset: number,
    limit: number,
  ): Promise<{ items: RepositoryListRow[]; total: number }> {
    const project = await this.projects.visible(principal, projectName, true);
    await this.projects.require(principal, project, 'repository', 'list');
    return listRepositories(this.db, [project.id], filter, offset, limit);
  }

  /** Repositories of every project the principal may list repositories of. */
  async listAllRepositories(
    principal: Principal,
    filter: RepositoryFilter,
    offset: number,
    limit: number,
  ): Promise<{ items: RepositoryListRow[]; total: number }> {
    const scope = await this.scope(principal);
    return listRepositories(this.db, scope.ids, filter, offset, limit);
  }

  async getRepository(
    principal: Principal,
    projectName: string,
    repositoryName: string,
  ): Promise<RepositoryListRow> {
    const { repository } = await this.repository(
      principal,
      projectName,
      repositoryName,
      'repository',
      'read',
    );
    return repository;
  }

  async updateRepositoryDescription(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    description: string,
  ): Promise<void> {
    if (description.length > 1024)
      throw new ServiceError('invalid', 'description is longer than 1024 characters');
    const { project, repository } = await this.repository(
      principal,
      projectName,
      repositoryName,
      'repository',
      'update',
    );
    await this.db.transaction(async (tx) => {
      await setRepositoryDescription(tx, repository.id, description);
      const event = { name: repository.name, id: repository.id, changes: changesOf({ description }) };
      await recordEvent(tx, adminEvent('repository.updated', principal, project.name, event));
    });
  }

  // --- artifacts ----------------------------------------------------------------------------

  async listArtifacts(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    filter: ArtifactFilter,
    options: ArtifactViewOptions,
    offset: number,
    limit: number,
  ): Promise<{ items: ArtifactView[]; total: number }> {
    const { project, repository } = await this.repository(
      principal,
      projectName,
      repositoryName,
      'artifact',
      'list',
    );
    const { items, total } = await listArtifacts(this.db, repository.id, filter, offset, limit);
    return {
      items: await artifactViews(this.db, this.manifests, project, repository, items, options),
      total,
    };
  }

  async getArtifact(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    reference: string,
    options: ArtifactViewOptions,
  ): Promise<ArtifactView> {
    const { project, repository, artifact } = await this.resolveArtifact(
      principal,
      projectName,
      repositoryName,
      reference,
      'artifact',
      'read',
    );
    const [view] = await artifactViews(this.db, this.manifests, project, repository, [artifact], options);
    return view as ArtifactView;
  }

  /**
   * The artifact a tag or digest names, for a principal who may see the project and holds
   * `resource`/`action` in it (for the services that act on artifacts, such as labels).
   */
  async resolveArtifact(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    reference: string,
    resource: Resource,
    action: Action,
  ): Promise<ResolvedArtifact> {
    const { project, repository } = await this.repository(
      principal,
      projectName,
      repositoryName,
      resource,
      action,
    );
    return { project, repository, artifact: await this.artifact(repository, reference) };
  }

  // --- tags -----------------------------------------------------------------------------------

  async listTags(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    reference: string,
    nameLike: string | undefined,
    offset: number,
    limit: number,
    withImmutableStatus = false,
  ): Promise<{ items: TagView[]; total: number }> {
    const { project, repository } = await this.repository(
      principal,
      projectName,
      repositoryName,
      'artifact',
      'read',
    );
    await this.projects.require(principal, project, 'tag', 'list');
    const row = await this.artifact(repository, reference);
    const { items, total } = await listTagsOfManifest(this.db, row.id, nameLike, offset, limit);
    return { items: await tagViews(this.db, repository.name, items, withImmutableStatus), total };
  }

  // --- search and statistics ------------------------------------------------------------------

  async search(principal: Principal, needle: string): Promise<SearchResult> {
    const scope = await this.scope(principal);
    const visible = await this.projects.list(principal, { nameLike: needle }, 0, SEARCH_LIMIT);
    const rows = await searchRepositories(this.db, scope.ids, needle, SEARCH_LIMIT);
    const projectById = new Map<number, ProjectRow>(scope.projects.map((p) => [p.id, p]));
    const repositories = [];
    for (const row of rows) {
      const project = projectById.get(row.project_id) ?? (await this.projects.find(String(row.project_id)));
      if (project) repositories.push({ row, project });
    }
    return { projects: visible.items, repositories };
  }

  async statistics(principal: Principal): Promise<Statistics> {
    requireSignedIn(principal, 'sign in to see statistics');
    const visible = await this.visibleProjects(principal);
    const scope = await this.scope(principal, visible);
    const counts = await repositoryCountsByProject(this.db, scope.ids);
    const stats: Statistics = {
      privateProjects: 0,
      publicProjects: 0,
      privateRepositories: 0,
      publicRepositories: 0,
      totals: null,
    };
    const listable = new Set(scope.projects.map((p) => p.id));
    for (const project of visible) {
      const repos = listable.has(project.id) ? (counts.get(project.id) ?? 0) : 0;
      if (project.public) {
        stats.publicProjects += 1;
        stats.publicRepositories += repos;
      } else {
        stats.privateProjects += 1;
        stats.privateRepositories += repos;
      }
    }
    if (this.access.isSysadmin(principal)) {
      stats.totals = {
        projects: visible.length,
        repositories: [...counts.values()].reduce((a, b) => a + b, 0),
        storageBytes: await totalStoredBytes(this.db),
      };
    }
    return stats;
  }

  // --- helpers --------------------------------------------------------------------------------

  /** Every project the principal can see (as GET /projects lists them). */
  private async visibleProjects(principal: Principal): Promise<ProjectRow[]> {
    const all: ProjectRow[] = [];
    const batch = 500;
    for (let offset = 0; ; offset += batch) {
      const { items } = await this.projects.list(principal, {}, offset, batch);
      all.push(...items);
      if (items.length < batch) return all;
    }
  }

  /** The projects whose repositories the principal may list; ids null for system administrators. */
  private async scope(
    principal: Principal,
    visible?: ProjectRow[],
  ): Promise<{ ids: ProjectScope; projects: ProjectRow[] }> {
    const projects = visible ?? (await this.visibleProjects(principal));
    const listable: ProjectRow[] = [];
    for (const project of projects) {
      if (await this.allowed(principal, project, 'repository', 'list')) listable.push(project);
    }
    return { ids: this.access.isSysadmin(principal) ? null : listable.map((p) => p.id), projects: listable };
  }

  private async allowed(
    principal: Principal,
    project: ProjectRow,
    resource: Resource,
    action: Action,
  ): Promise<boolean> {
    try {
      await this.projects.require(principal, project, resource, action);
      return true;
    } catch (err) {
      if (err instanceof ServiceError) return false;
      throw err;
    }
  }

  /** The project (visible to the principal, who must hold the permission) and the repository. */
  private repository(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    resource: Resource,
    action: Action,
  ): Promise<{ project: ProjectRow; repository: RepositoryListRow }> {
    return this.scopes.resolve(principal, projectName, repositoryName, resource, action);
  }

  private async artifact(repository: RepositoryListRow, reference: string): Promise<ArtifactRow> {
    let parsed;
    try {
      parsed = parseManifestReference(reference);
    } catch (err) {
      if (err instanceof RegistryError) throw new ServiceError('invalid', err.message);
      throw err;
    }
    const row =
      'tag' in parsed
        ? await findArtifactByTag(this.db, repository.id, parsed.tag)
        : await findArtifactByDigest(this.db, repository.id, parsed.digest.value);
    if (!row) throw new ServiceError('not-found', `artifact ${reference} not found in ${repository.name}`);
    return row;
  }
}
