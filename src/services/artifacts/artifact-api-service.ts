import { RegistryError } from '../../domain/errors.js';
import { findArtifactByDigest, findArtifactByTag } from '../../metadata/artifacts-query.js';
import type { Database } from '../../metadata/database.js';
import { eventActor, type Principal } from '../principal.js';
import { parseManifestReference } from '../registry/validate.js';
import { ServiceError } from '../service-error.js';
import type { ArtifactService } from './artifact-service.js';
import type { RepositoryScope, ScopedRepository } from './repository-scope.js';

// The management API's writes of registry content (Harbor's repository, artifact and tag
// deletes, tag creation): the caller's permission is checked here, then the artifact core does
// the write, with the same rules and events as a /v2 write. The events name the caller and the
// address the HTTP edge stamped on it.

export class ArtifactApiService {
  constructor(
    private readonly db: Database,
    private readonly scope: RepositoryScope,
    private readonly artifacts: ArtifactService,
  ) {}

  async deleteRepository(principal: Principal, projectName: string, repositoryName: string): Promise<void> {
    const { repository } = await this.scope.resolve(
      principal,
      projectName,
      repositoryName,
      'repository',
      'delete',
    );
    await this.artifacts.deleteRepository(repository.name, eventActor(principal));
  }

  /** By digest, or by tag: the artifact the tag names, with all its tags (as Harbor). */
  async deleteArtifact(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    reference: string,
  ): Promise<void> {
    const { repository } = await this.scope.resolve(
      principal,
      projectName,
      repositoryName,
      'artifact',
      'delete',
    );
    await this.artifacts.deleteArtifact(repository.name, reference, eventActor(principal));
  }

  async createTag(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    reference: string,
    tag: string,
  ): Promise<void> {
    const { repository } = await this.scope.resolve(principal, projectName, repositoryName, 'tag', 'create');
    await this.artifacts.createTag(repository.name, reference, tag, eventActor(principal));
  }

  /** Removes the tag only; it must be on the artifact `reference` names. */
  async deleteTag(
    principal: Principal,
    projectName: string,
    repositoryName: string,
    reference: string,
    tag: string,
  ): Promise<void> {
    const scoped = await this.scope.resolve(principal, projectName, repositoryName, 'tag', 'delete');
    const digest = await this.digestOf(scoped, reference);
    try {
      await this.artifacts.deleteTag(scoped.repository.name, tag, eventActor(principal), {
        onlyIfDigest: digest,
      });
    } catch (err) {
      // A malformed tag cannot be on the artifact either: Harbor answers both with 404.
      if (err instanceof RegistryError && (err.code === 'TAG_INVALID' || err.code === 'MANIFEST_UNKNOWN')) {
        throw new ServiceError('not-found', `tag ${tag.slice(0, 150)} is not on artifact ${digest}`);
      }
      throw err;
    }
  }

  private async digestOf({ repository }: ScopedRepository, reference: string): Promise<string> {
    const ref = parseManifestReference(reference);
    const row =
      'tag' in ref
        ? await findArtifactByTag(this.db, repository.id, ref.tag)
        : await findArtifactByDigest(this.db, repository.id, ref.digest.value);
    if (!row) throw new ServiceError('not-found', `artifact ${reference} not found in ${repository.name}`);
    return row.digest;
  }
}
