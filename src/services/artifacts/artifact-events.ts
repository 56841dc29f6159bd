import type { ArtifactEventData, EventActor, NewEvent } from '../../domain/events.js';

// The events the artifact core records with each write (recordEvents, in the write's own
// transaction). The project is the first component of the repository name.

export interface ArtifactFacts {
  digest: string;
  mediaType: string;
  size: number;
}

function projectOf(repository: string): string {
  return repository.split('/', 1)[0] as string;
}

function artifactData(
  repository: string,
  artifact: ArtifactFacts,
  tags: readonly string[],
): ArtifactEventData {
  return {
    repository,
    digest: artifact.digest,
    mediaType: artifact.mediaType,
    size: artifact.size,
    tags: [...tags],
  };
}

export function artifactPushed(
  actor: EventActor,
  repository: string,
  artifact: ArtifactFacts,
  tags: readonly string[],
): NewEvent<'artifact.pushed'> {
  return {
    type: 'artifact.pushed',
    actor,
    projectName: projectOf(repository),
    data: artifactData(repository, artifact, tags),
  };
}

export function artifactDeleted(
  actor: EventActor,
  repository: string,
  artifact: ArtifactFacts,
  tags: readonly string[],
): NewEvent<'artifact.deleted'> {
  return {
    type: 'artifact.deleted',
    actor,
    projectName: projectOf(repository),
    data: artifactData(repository, artifact, tags),
  };
}

export function tagCreated(
  actor: EventActor,
  repository: string,
  tag: string,
  digest: string,
): NewEvent<'tag.created'> {
  return {
    type: 'tag.created',
    actor,
    projectName: projectOf(repository),
    data: { repository, tag, digest },
  };
}

export function tagDeleted(
  actor: EventActor,
  repository: string,
  tag: string,
  digest: string | null,
): NewEvent<'tag.deleted'> {
  return {
    type: 'tag.deleted',
    actor,
    projectName: projectOf(repository),
    data: { repository, tag, digest },
  };
}

export function repositoryDeleted(actor: EventActor, repository: string): NewEvent<'repository.deleted'> {
  return { type: 'repository.deleted', actor, projectName: projectOf(repository), data: { repository } };
}
