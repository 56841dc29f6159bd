import { OCI_INDEX } from '../domain/media-types.js';
import { repositoryScope } from './auth.js';
import { RemoteError } from './errors.js';
import { nextLink } from './challenge.js';
import { readLimited, type PeerHttp } from './http-client.js';
import { getManifest, MAX_MANIFEST_BYTES } from './manifests.js';
import { digestPath, repositoryPath } from './paths.js';
import { header } from './transport.js';

// The referrers of a manifest on a peer (signatures, SBOMs, attestations): the OCI 1.1 referrers
// API, and for registries without it (404) the fallback tag schema: an index tagged
// `<alg>-<hex>` that lists them.

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Referrers {
  descriptors: ReferrerDescriptor[];
  /** How they were found: the API, or the fallback tag. */
  source: 'api' | 'tag-schema';
}

const MAX_PAGES = 100;

/** The fallback tag for a subject digest: `sha256:abc…` → `sha256-abc…`. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

export async function listReferrers(
  http: PeerHttp,
  name: string,
  digest: string,
  options: { artifactType?: string; signal?: AbortSignal } = {},
): Promise<Referrers> {
  const { signal } = options;
  let path: string | null = `${repositoryPath(name)}/referrers/${digestPath(digest)}${
    options.artifactType ? `?artifactType=${encodeURIComponent(options.artifactType)}` : ''
  }`;
  const descriptors: ReferrerDescriptor[] = [];
  for (let page = 0; path !== null; page++) {
    if (page >= MAX_PAGES)
      throw new RemoteError('other', `${http.display(path)}: more than ${MAX_PAGES} pages`);
    const res = await http.send({
      method: 'GET',
      path,
      scopes: [repositoryScope(name, 'pull')],
      headers: { accept: OCI_INDEX },
      ...(signal && { signal }),
    });
    if (res.status === 404 && page === 0) {
      await res.body.dump();
      return fallback(http, name, digest, options);
    }
    if (res.status !== 200) throw await http.failure(res, `GET ${http.display(path)}`);
    const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES);
    descriptors.push(...descriptorsOf(bytes, http.display(path)));
    path = nextLink(header(res, 'link'), http.resolve(path));
  }
  // A peer that ignored the artifactType filter (it says so in OCI-Filters-Applied) is filtered here.
  return { descriptors: filterType(descriptors, options.artifactType), source: 'api' };
}

async function fallback(
  http: PeerHttp,
  name: string,
  digest: string,
  options: { artifactType?: string; signal?: AbortSignal },
): Promise<Referrers> {
  const index = await getManifest(http, name, referrersTag(digest), options.signal);
  if (!index) return { descriptors: [], source: 'tag-schema' };
  return {
    descriptors: filterType(descriptorsOf(index.bytes, `tag ${referrersTag(digest)}`), options.artifactType),
    source: 'tag-schema',
  };
}

function filterType(list: ReferrerDescriptor[], artifactType: string | undefined): ReferrerDescriptor[] {
  return artifactType ? list.filter((d) => d.artifactType === artifactType) : list;
}

function descriptorsOf(bytes: Buffer, what: string): ReferrerDescriptor[] {
  let parsed: { manifests?: unknown };
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as { manifests?: unknown };
  } catch (err) {
    throw new RemoteError('other', `${what}: the referrers index is not JSON`, undefined, undefined, {
      cause: err,
    });
  }
  if (!Array.isArray(parsed.manifests)) return [];
  return parsed.manifests.flatMap((m: unknown): ReferrerDescriptor[] => {
    const d = m as Partial<ReferrerDescriptor> | null;
    if (!d || typeof d.digest !== 'string' || typeof d.mediaType !== 'string' || typeof d.size !== 'number')
      return [];
    return [
      {
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
        ...(typeof d.artifactType === 'string' && { artifactType: d.artifactType }),
        ...(d.annotations && typeof d.annotations === 'object' && { annotations: d.annotations }),
      },
    ];
  });
}
