import { isDigest } from '../domain/digest.js';
import { isRepositoryName, isTag } from '../domain/reference.js';
import { RemoteError } from './errors.js';

// Names and references are checked before they go into a URL: a listing from a peer is input
// like any other, and a name with ".." or "?" must not address something else.

export function repositoryPath(name: string): string {
  if (!isRepositoryName(name))
    throw new RemoteError('other', `invalid repository name "${name.slice(0, 300)}"`);
  return `/v2/${name}`;
}

export function referencePath(reference: string): string {
  if (!isTag(reference) && !isDigest(reference)) {
    throw new RemoteError('other', `invalid tag or digest "${reference.slice(0, 200)}"`);
  }
  return encodeURIComponent(reference);
}

export function digestPath(digest: string): string {
  if (!isDigest(digest)) throw new RemoteError('other', `invalid digest "${digest.slice(0, 200)}"`);
  return encodeURIComponent(digest);
}
