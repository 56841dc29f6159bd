// Repository names and tags, by the OCI Distribution spec's grammar.

/** Path components separated by `/`, each `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`. */
const NAME_GRAMMAR = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_GRAMMAR = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Full repository name limit; the spec suggests hostname + name stay under 255 characters. */
export const MAX_REPOSITORY_NAME_LENGTH = 255;

export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_REPOSITORY_NAME_LENGTH && NAME_GRAMMAR.test(name);
}

export function isTag(tag: string): boolean {
  return TAG_GRAMMAR.test(tag);
}
