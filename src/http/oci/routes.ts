// Parses /v2 paths. Repository names contain slashes, so the route table is a set of suffix
// patterns matched against the path after /v2/; names are validated later by the services.
// Patterns match the path as sent and each captured part is decoded on its own: an encoded slash
// (%2F) is data inside one part, never a separator that could move the boundary between the
// repository name and the digest, tag or upload id.

export type OciRoute =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string };

/** Suffix patterns: group 1 is the repository name, group 2 (when present) the last part. */
const PATTERNS: Array<[RegExp, (name: string, last: string) => OciRoute]> = [
  [/^(.+)\/blobs\/uploads\/?$/, (name) => ({ kind: 'uploads', name })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (name, id) => ({ kind: 'upload', name, id })],
  [/^(.+)\/blobs\/([^/]+)$/, (name, digest) => ({ kind: 'blob', name, digest })],
  [/^(.+)\/manifests\/([^/]+)$/, (name, reference) => ({ kind: 'manifest', name, reference })],
  [/^(.+)\/tags\/list$/, (name) => ({ kind: 'tags', name })],
  [/^(.+)\/referrers\/([^/]+)$/, (name, digest) => ({ kind: 'referrers', name, digest })],
];

/** `path` is the URL path without the query string. Returns null when nothing matches. */
export function parseOciPath(path: string): OciRoute | null {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) return null;
  const rest = path.slice(4);
  if (decode(rest) === '_catalog') return { kind: 'catalog' };
  for (const [pattern, build] of PATTERNS) {
    const m = pattern.exec(rest);
    if (!m) continue;
    const name = decode(m[1] ?? '');
    const last = decode(m[2] ?? '');
    return name === null || last === null ? null : build(name, last);
  }
  return null;
}

/** Percent-decodes one part of a path; null when the encoding is malformed. */
function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}
