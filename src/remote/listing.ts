import { isRepositoryName } from '../domain/reference.js';
import { CATALOG_SCOPE, repositoryScope } from './auth.js';
import { nextLink } from './challenge.js';
import type { RemoteRegistryType } from './config.js';
import { RemoteError } from './errors.js';
import type { PeerHttp } from './http-client.js';
import { headManifest } from './manifests.js';
import { repositoryPath } from './paths.js';
import { header } from './transport.js';

// What a peer holds: repositories and tags. A `docker-registry` peer is listed through the
// distribution API (catalog, tags/list, Link pagination); a `harbor` peer (Harbor or Wharf)
// through its management API, whose catalog is per project and whose artifacts carry their tags
// and digests in one answer. Listings are generators: a peer with 100k repositories is walked a
// page at a time, never held whole.

export interface Lister {
  repositories(signal?: AbortSignal): AsyncGenerator<string>;
  tags(name: string, signal?: AbortSignal): AsyncGenerator<string>;
  /** tag → digest of every tag of a repository (empty when the repository does not exist). */
  tagDigests(name: string, signal?: AbortSignal): Promise<Map<string, string>>;
}

const PAGE = 100;
/** A bound on pages per listing, so a peer answering the same next link forever cannot loop us. */
const MAX_PAGES = 100_000;

export function listerFor(type: RemoteRegistryType, http: PeerHttp, pageSize = PAGE): Lister {
  const size = Math.max(1, Math.min(PAGE, Math.floor(pageSize)));
  return type === 'harbor' ? new HarborLister(http, size) : new DistributionLister(http, size);
}

class DistributionLister implements Lister {
  constructor(
    private readonly http: PeerHttp,
    private readonly pageSize: number,
  ) {}

  async *repositories(signal?: AbortSignal): AsyncGenerator<string> {
    yield* this.pages(`/v2/_catalog?n=${this.pageSize}`, [CATALOG_SCOPE], 'repositories', signal);
  }

  async *tags(name: string, signal?: AbortSignal): AsyncGenerator<string> {
    yield* this.pages(
      `${repositoryPath(name)}/tags/list?n=${this.pageSize}`,
      [repositoryScope(name, 'pull')],
      'tags',
      signal,
    );
  }

  async tagDigests(name: string, signal?: AbortSignal): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    for await (const tag of this.tags(name, signal)) {
      const stat = await headManifest(this.http, name, tag, signal);
      if (stat) result.set(tag, stat.digest);
    }
    return result;
  }

  private async *pages(
    first: string,
    scopes: string[],
    field: 'repositories' | 'tags',
    signal?: AbortSignal,
  ): AsyncGenerator<string> {
    let path: string | null = first;
    for (let page = 0; path !== null; page++) {
      if (page >= MAX_PAGES) throw new RemoteError('other', `${this.http.display(first)}: too many pages`);
      const res = await this.http.send({ method: 'GET', path, scopes, ...(signal && { signal }) });
      // An unknown repository has no tags (distribution answers NAME_UNKNOWN).
      if (res.status === 404 && field === 'tags') {
        await res.body.dump();
        return;
      }
      if (res.status !== 200) throw await this.http.failure(res, `GET ${this.http.display(path)}`);
      const body = (await res.body.json()) as Partial<Record<typeof field, unknown>>;
      const items = body[field];
      for (const item of Array.isArray(items) ? items : []) if (typeof item === 'string') yield item;
      path = nextLink(header(res, 'link'), this.http.resolve(path));
    }
  }
}

interface HarborProject {
  name: string;
}
interface HarborRepository {
  name: string;
}
interface HarborArtifact {
  digest: string;
  tags?: Array<{ name: string }> | null;
}

class HarborLister implements Lister {
  constructor(
    private readonly http: PeerHttp,
    private readonly pageSize: number,
  ) {}

  async *repositories(signal?: AbortSignal): AsyncGenerator<string> {
    for await (const project of this.pages<HarborProject>('/api/v2.0/projects?', signal)) {
      if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(project.name)) continue;
      const path = `/api/v2.0/projects/${encodeURIComponent(project.name)}/repositories?`;
      for await (const repository of this.pages<HarborRepository>(path, signal)) {
        if (typeof repository.name === 'string' && isRepositoryName(repository.name)) yield repository.name;
      }
    }
  }

  async *tags(name: string, signal?: AbortSignal): AsyncGenerator<string> {
    for await (const artifact of this.artifacts(name, signal)) {
      for (const tag of artifact.tags ?? []) yield tag.name;
    }
  }

  async tagDigests(name: string, signal?: AbortSignal): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    for await (const artifact of this.artifacts(name, signal)) {
      for (const tag of artifact.tags ?? []) result.set(tag.name, artifact.digest);
    }
    return result;
  }

  private async *artifacts(name: string, signal?: AbortSignal): AsyncGenerator<HarborArtifact> {
    repositoryPath(name);
    const slash = name.indexOf('/');
    if (slash < 0) return; // Harbor repositories always live in a project
    const project = name.slice(0, slash);
    // Harbor wants the slashes of the repository name encoded twice.
    const repository = encodeURIComponent(encodeURIComponent(name.slice(slash + 1)));
    const path = `/api/v2.0/projects/${encodeURIComponent(project)}/repositories/${repository}/artifacts?with_tag=true&`;
    try {
      for await (const artifact of this.pages<HarborArtifact>(path, signal)) {
        if (typeof artifact.digest === 'string') yield artifact;
      }
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'not-found') return;
      throw err;
    }
  }

  /** Harbor's paging: page=1.., page_size ≤ 100; the last page is the first short one. */
  private async *pages<T>(pathWithQuery: string, signal?: AbortSignal): AsyncGenerator<T> {
    for (let page = 1; page <= MAX_PAGES; page++) {
      const { body } = await this.http.apiGet<unknown>(
        `${pathWithQuery}page=${page}&page_size=${this.pageSize}`,
        signal,
      );
      if (!Array.isArray(body)) {
        throw new RemoteError('other', `${this.http.display(pathWithQuery)}: expected a JSON array`);
      }
      for (const item of body) if (item && typeof item === 'object') yield item as T;
      if (body.length < this.pageSize) return;
    }
  }
}
