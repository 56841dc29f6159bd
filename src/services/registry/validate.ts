import { parseDigest, type Digest } from '../../domain/digest.js';
import { RegistryError } from '../../domain/errors.js';
import { isRepositoryName, isTag, MAX_REPOSITORY_NAME_LENGTH } from '../../domain/reference.js';

// Input validation shared by the registry services: nothing unvalidated reaches SQL or storage.

export function requireRepositoryName(name: string): void {
  if (!isRepositoryName(name)) {
    throw new RegistryError(
      'NAME_INVALID',
      name.length > MAX_REPOSITORY_NAME_LENGTH
        ? `repository name is longer than ${MAX_REPOSITORY_NAME_LENGTH} characters`
        : `invalid repository name "${name.slice(0, 100)}"`,
    );
  }
}

export function requireDigest(value: string): Digest {
  const parsed = parseDigest(value);
  if (!parsed.ok) {
    // An unsupported algorithm in a digest is still an invalid digest to the client (400).
    throw new RegistryError('DIGEST_INVALID', parsed.message);
  }
  return parsed.digest;
}

export type ManifestReference = { tag: string } | { digest: Digest };

/** A manifest reference is a digest when it contains ':', else a tag. */
export function parseManifestReference(reference: string): ManifestReference {
  if (reference.includes(':')) return { digest: requireDigest(reference) };
  if (!isTag(reference)) {
    throw new RegistryError('MANIFEST_INVALID', `invalid tag "${reference.slice(0, 130)}"`);
  }
  return { tag: reference };
}

export function requireTag(tag: string): string {
  if (!isTag(tag)) throw new RegistryError('MANIFEST_INVALID', `invalid tag "${tag.slice(0, 130)}"`);
  return tag;
}
