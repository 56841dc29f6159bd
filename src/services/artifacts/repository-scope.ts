import type { Action, Resource } from '../../domain/rbac.js';
import { findRepositoryInProject, type RepositoryListRow } from '../../metadata/artifacts-query.js';
import type { Database } from '../../metadata/database.js';
import type { ProjectRow } from '../../metadata/projects-table.js';
import type { Principal } from '../principal.js';
import type { ProjectService } from '../project-service.js';
import { ServiceError } from '../service-error.js';

// How the management API finds a repository for a caller: the project must be visible to them
// and they must hold the permission; the repository is named without its project prefix.
// Shared by the API's reads (CatalogApiService) and writes (ArtifactApiService).

export interface ScopedRepository {
  project: ProjectRow;
  repository: RepositoryListRow;
}

export class RepositoryScope {
  constructor(
    private readonly db: Database,
    private readonly projects: ProjectService,
  ) {}

  async resolve(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    resource: Resource,
    action: Action,
  ): Promise<ScopedRepository> {
    const project = await this.projects.visible(principal, projectName, true);
    await this.projects.require(principal, project, resource, action);
    const fullName = `${project.name}/${repositoryName}`;
    const repository = await findRepositoryInProject(this.db, project.id, fullName);
    if (!repository) throw new ServiceError('not-found', `repository ${fullName} not found`);
    return { project, repository };
  }
}
