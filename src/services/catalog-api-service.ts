import type { LookupCache } from '../cluster/lookup-cache.js';
import { RegistryError } from '../domain/errors.js';
import { harborArtifactType, INDEX_MEDIA_TYPES } from '../domain/artifact-type.js';
import type { Action, Resource } from '../domain/rbac.js';
import { lockRepository } from '../metadata/repositories-table.js';
import {
  artifactSizes,
  childrenOf,
  deleteArtifactRows,
  deleteRepositoryRows,
  findArtifactByDigest,
  findArtifactByTag,
  findRepositoryInProject,
  isChildOfIndex,
  listArtifacts,
  listRepositories,
  listTagsOfManifest,
  repositoryCountsByProject,
  searchRepositories,
  setRepositoryDescription,
  tagsOfManifests,
  totalStoredBytes,
  type ArtifactFilter,
  type ArtifactRow,
  type ProjectScope,
  type RepositoryFilter,
  type RepositoryListRow,
  type TagRow,
} from '../metadata/artifacts-query.js';
import { isUniqueViolation, type Database, type Queryable } from '../metadata/database.js';
import { labelsOfManifests, type LabelRow } from '../metadata/labels-table.js';
import {
  deleteTagWithTombstone,
  recordTombstonesOfManifest,
  recordTombstonesOfRepository,
} from '../metadata/tombstones-table.js';
import type { ProjectRow } from '../metadata/projects-table.js';
import type { AccessService } from './access-service.js';
import { type Principal, requireSignedIn } from './principal.js';
import type { ProjectService } from './project-service.js';
import type { ManifestService } from './registry/manifest-service.js';
import { parseManifestReference, requireTag } from './registry/validate.js';
import { ServiceError } from './service-error.js';

// The management API's view of registry content (Harbor's repositories, artifacts, tags, search
// and statistics). Every decision goes through ProjectService.visible/require; every write to a
// repository invalidates its hot-path lookups.

export interface ArtifactView {
  row: ArtifactRow;
  repositoryName: string;
  projectId: number;
  size: number;
  type: string;
  /** Harbor's media_type: the config media type of an image, the manifest media type of an index. */
  mediaType: string;
  tags: TagRow[] | null;
  /** Null unless asked for (Harbor's with_label). */
  labels: LabelRow[] | null;
  references: Array<{ parentId: number; childId: number; childDigest: string; platform: unknown }>;
}

/** What an artifact view carries besides the artifact itself (Harbor's with_tag, with_label). */
export interface ArtifactViewOptions {
  withTag: boolean;
  withLabel: boolean;
}

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

const INDEXES = INDEX_MEDIA_TYPES;

/** A tag (null: several, or all of a repository) created or deleted through the management API. */
export interface TagChange {
  repository: string;
  tag: string | null;
  operation: 'create' | 'delete';
}
export type TagChangeListener = (change: TagChange, principal: Principal) => Promise<void>;
const SEARCH_LIMIT = 100;

export class CatalogApiService {
  constructor(
    private readonly db: Database,
    private readonly projects: ProjectService,
    private readonly access: AccessService,
    private readonly manifests: ManifestService,
    private readonly lookups: LookupCache,
    /** Told after each tag change made through this API (event-based replication listens). */
    private readonly tagChanged: TagChangeListener = async () => undefined,
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

  /** Deletes the repository's rows (manifests, tags, blob links); the bytes stay for GC. */
  async updateRepositoryDescription(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    description: string,
  ): Promise<void> {
    if (description.length > 1024)
      throw new ServiceError('invalid', 'description is longer than 1024 characters');
    const { repository } = await this.repository(
      principal,
      projectName,
      repositoryName,
      'repository',
      'update',
    );
    await setRepositoryDescription(this.db, repository.id, description);
  }

  async deleteRepository(principal: Principal, projectName: string, repositoryName: string): Promise<void> {
    const { repository } = await this.repository(
      principal,
      projectName,
      repositoryName,
      'repository',
      'delete',
    );
    await this.db.transaction(async (tx) => {
      // With tombstones, so that two-way replication never brings the tags back; the row
      // locked first, so a push in flight finishes before (its tags get tombstones) or after.
      await lockRepository(tx, repository.id);
      await recordTombstonesOfRepository(tx, repository.id);
      await deleteRepositoryRows(tx, repository.id);
    });
    await this.lookups.invalidate(repository.name);
    await this.tagChanged({ repository: repository.name, tag: null, operation: 'delete' }, principal);
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
    return { items: await this.views(project, repository, items, options), total };
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
    const [view] = await this.views(project, repository, [artifact], options);
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

  /**
   * Deletes the artifact a digest or tag names (by tag: the manifest the tag points to, with all
   * its tags, as Harbor does), and the children of an index that nothing else keeps.
   */
  async deleteArtifact(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    reference: string,
  ): Promise<void> {
    const { repository } = await this.repository(
      principal,
      projectName,
      repositoryName,
      'artifact',
      'delete',
    );
    try {
      await this.db.transaction(async (tx) => {
        const row = await this.artifact(repository, reference, tx);
        if (await isChildOfIndex(tx, repository.id, row.digest)) {
          throw new ServiceError(
            'precondition',
            `artifact ${row.digest} is referenced by an index in ${repository.name}; delete the index first`,
          );
        }
        await recordTombstonesOfManifest(tx, repository.name, row.id);
        await deleteArtifactRows(tx, repository.id, row.id);
      });
    } finally {
      await this.lookups.invalidate(repository.name);
    }
    await this.tagChanged({ repository: repository.name, tag: null, operation: 'delete' }, principal);
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
  ): Promise<{ items: TagRow[]; total: number }> {
    const { project, repository } = await this.repository(
      principal,
      projectName,
      repositoryName,
      'artifact',
      'read',
    );
    await this.projects.require(principal, project, 'tag', 'list');
    const row = await this.artifact(repository, reference);
    return listTagsOfManifest(this.db, row.id, nameLike, offset, limit);
  }

  async createTag(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    reference: string,
    tag: string,
  ): Promise<void> {
    const { repository } = await this.repository(principal, projectName, repositoryName, 'tag', 'create');
    const name = validTag(tag);
    const row = await this.artifact(repository, reference);
    try {
      const inserted = await this.db.query<{ name: string }>(
        `INSERT INTO tags (repository_id, name, manifest_id) VALUES ($1, $2, $3)
         ON CONFLICT (repository_id, name) DO NOTHING RETURNING name`,
        [repository.id, name, row.id],
      );
      if (inserted.length === 0) {
        throw new ServiceError('conflict', `tag ${name} already exists in ${repository.name}`);
      }
    } catch (err) {
      if (isUniqueViolation(err)) throw new ServiceError('conflict', `tag ${name} already exists`);
      throw err;
    } finally {
      await this.lookups.invalidate(repository.name);
    }
    await this.tagChanged({ repository: repository.name, tag: name, operation: 'create' }, principal);
  }

  async deleteTag(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    reference: string,
    tag: string,
  ): Promise<void> {
    const { repository } = await this.repository(principal, projectName, repositoryName, 'tag', 'delete');
    const row = await this.artifact(repository, reference);
    const current = await findArtifactByTag(this.db, repository.id, tag);
    if (!current || current.id !== row.id) {
      throw new ServiceError('not-found', `tag ${tag} is not on artifact ${row.digest}`);
    }
    try {
      // With a tombstone, so that two-way replication never brings the tag back.
      await deleteTagWithTombstone(this.db, repository.id, repository.name, tag);
    } finally {
      await this.lookups.invalidate(repository.name);
    }
    await this.tagChanged({ repository: repository.name, tag, operation: 'delete' }, principal);
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
  private async repository(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    resource: Resource,
    action: Action,
  ): Promise<{ project: ProjectRow; repository: RepositoryListRow }> {
    const project = await this.projects.visible(principal, projectName, true);
    await this.projects.require(principal, project, resource, action);
    const fullName = `${project.name}/${repositoryName}`;
    const repository = await findRepositoryInProject(this.db, project.id, fullName);
    if (!repository) throw new ServiceError('not-found', `repository ${fullName} not found`);
    return { project, repository };
  }

  private async artifact(
    repository: RepositoryListRow,
    reference: string,
    db: Queryable = this.db,
  ): Promise<ArtifactRow> {
    let parsed;
    try {
      parsed = parseManifestReference(reference);
    } catch (err) {
      if (err instanceof RegistryError) throw new ServiceError('invalid', err.message);
      throw err;
    }
    const row =
      'tag' in parsed
        ? await findArtifactByTag(db, repository.id, parsed.tag)
        : await findArtifactByDigest(db, repository.id, parsed.digest.value);
    if (!row) throw new ServiceError('not-found', `artifact ${reference} not found in ${repository.name}`);
    return row;
  }

  private async views(
    project: ProjectRow,
    repository: RepositoryListRow,
    rows: ArtifactRow[],
    options: ArtifactViewOptions,
  ): Promise<ArtifactView[]> {
    const { withTag, withLabel } = options;
    const ids = rows.map((r) => r.id);
    const sizes = await artifactSizes(this.db, ids);
    const tags = withTag ? await tagsOfManifests(this.db, ids) : [];
    const labels = withLabel ? await labelsOfManifests(this.db, ids) : null;
    const indexIds = rows.filter((r) => INDEXES.has(r.media_type)).map((r) => r.id);
    const children = await childrenOf(this.db, indexIds);
    const views: ArtifactView[] = [];
    for (const row of rows) {
      const isIndex = INDEXES.has(row.media_type);
      const own = children.filter((c) => c.parent_id === row.id);
      const platforms =
        isIndex && own.length > 0 ? await this.platforms(repository.name, row.digest) : new Map();
      const configType = row.artifact_type ?? '';
      views.push({
        row,
        repositoryName: repository.name,
        projectId: project.id,
        size: sizes.get(row.id) ?? row.size,
        type: harborArtifactType(row.media_type, row.artifact_type),
        mediaType: isIndex ? row.media_type : configType || row.media_type,
        tags: withTag ? tags.filter((t) => t.manifest_id === row.id) : null,
        labels: labels ? (labels.get(row.id) ?? []) : null,
        references: own.map((c) => ({
          parentId: c.parent_id,
          childId: c.child_id,
          childDigest: c.child_digest,
          platform: platforms.get(c.child_digest) ?? null,
        })),
      });
    }
    return views;
  }

  /** The platform of each child descriptor of an index, read from the stored index. */
  private async platforms(repositoryName: string, digest: string): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    try {
      const content = await this.manifests.get(repositoryName, digest);
      const doc = JSON.parse(content.bytes.toString('utf8')) as { manifests?: unknown };
      if (!Array.isArray(doc.manifests)) return out;
      for (const entry of doc.manifests as unknown[]) {
        if (typeof entry !== 'object' || entry === null) continue;
        const d = entry as { digest?: unknown; platform?: unknown };
        if (typeof d.digest === 'string' && d.platform !== undefined && !out.has(d.digest)) {
          out.set(d.digest, d.platform);
        }
      }
    } catch (err) {
      // A missing or unreadable index leaves the platforms out; the artifact is still listed.
      if (!(err instanceof RegistryError) && !(err instanceof SyntaxError)) throw err;
    }
    return out;
  }
}

function validTag(tag: string): string {
  try {
    return requireTag(tag);
  } catch (err) {
    if (err instanceof RegistryError) throw new ServiceError('invalid', err.message);
    throw err;
  }
}
