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
    throw new RegistryError('TAG_INVALID', `invalid tag "${reference.slice(0, 130)}"`);
  }
  return { tag: reference };
}

/**
 * A reference to look a manifest up by, or null when it can name no manifest (neither a valid tag
 * nor a valid digest): reads answer MANIFEST_UNKNOWN for it, as for any manifest not stored, which
 * is what the OCI conformance suite expects. Writes still refuse such a reference as invalid.
 */
export function lookupReference(reference: string): ManifestReference | null {
  try {
    return parseManifestReference(reference);
  } catch (err) {
    if (err instanceof RegistryError) return null;
    throw err;
  }
}

/** Free text a listing compares with (`last`, `artifactType`): no NUL, which SQL text cannot hold. */
export function requireQueryText(value: string | undefined, name: string): string | undefined {
  if (value !== undefined && value.includes('\0')) {
    throw new RegistryError('UNSUPPORTED', `${name} must not contain NUL characters`, undefined, 400);
  }
  return value;
}

export function requireTag(tag: string): string {
  if (!isTag(tag)) throw new RegistryError('TAG_INVALID', `invalid tag "${tag.slice(0, 130)}"`);
  return tag;
}
