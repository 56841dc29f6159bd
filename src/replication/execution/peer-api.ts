import { isRepositoryName } from '../../domain/reference.js';
import type { RemoteRegistryConfig } from '../../remote/config.js';
import { RemoteError } from '../../remote/errors.js';
import { PeerHttp } from '../../remote/http-client.js';
import { Transport } from '../../remote/transport.js';

// What two-way replication reads from and writes to a Harbor or Wharf peer besides content:
//
// - the tags' push times, from Harbor's artifact listing
//   (/api/v2.0/projects/{p}/repositories/{r}/artifacts?with_tag=true: each tag's `push_time`);
// - Wharf extensions (system administrators only; a peer without them, Harbor, answers 404 and
//   is then treated as keeping no tombstones and no origin times):
//   GET /api/v2.0/replication/tombstones?repository=… the peer's unexpired tombstones,
//   PUT /api/v2.0/replication/tombstones a deletion made there on our behalf, with our time,
//   PUT /api/v2.0/replication/tag-origins the origin push time of a tag we copied there.

export interface PeerTagVersion {
  digest: string;
  /** Milliseconds since the epoch; null when the peer gives no push time. */
  pushedAt: number | null;
  /** Harbor's artifact type (IMAGE, CHART, ...); null when the peer does not say. */
  type: string | null;
  /** The artifact's label names. */
  labels: string[];
}

export interface PeerTombstone {
  tag: string;
  digest: string;
  deletedAt: number;
}

interface ArtifactJson {
  digest?: unknown;
  type?: unknown;
  tags?: Array<{ name?: unknown; push_time?: unknown }> | null;
  labels?: Array<{ name?: unknown }> | null;
}

const PAGE = 100;

/** tag → version, from artifacts in Harbor's JSON (entries that are not are skipped). */
function versionsOf(items: readonly ArtifactJson[]): Map<string, PeerTagVersion> {
  const result = new Map<string, PeerTagVersion>();
  for (const item of items) {
    if (!item || typeof item.digest !== 'string') continue;
    const type = typeof item.type === 'string' ? item.type : null;
    const labels = (Array.isArray(item.labels) ? item.labels : []).flatMap((l) =>
      typeof l?.name === 'string' ? [l.name] : [],
    );
    for (const tag of Array.isArray(item.tags) ? item.tags : []) {
      if (typeof tag?.name !== 'string') continue;
      const time = typeof tag.push_time === 'string' ? Date.parse(tag.push_time) : NaN;
      result.set(tag.name, {
        digest: item.digest,
        pushedAt: Number.isFinite(time) ? time : null,
        type,
        labels,
      });
    }
  }
  return result;
}
const MAX_PAGES = 100_000;

export class PeerApi {
  readonly #transport: Transport;
  readonly #http: PeerHttp;

  constructor(config: RemoteRegistryConfig) {
    this.#transport = new Transport(config);
    this.#http = new PeerHttp(config.url.replace(/\/+$/, ''), this.#transport, config.credential ?? null);
  }

  get url(): string {
    return this.#http.baseUrl;
  }

  /** tag → digest, push time, type and labels (empty when the peer has no such repository). */
  async tagVersions(name: string, signal?: AbortSignal): Promise<Map<string, PeerTagVersion>> {
    const result = new Map<string, PeerTagVersion>();
    const slash = name.indexOf('/');
    if (!isRepositoryName(name) || slash < 0) return result;
    const project = encodeURIComponent(name.slice(0, slash));
    // Harbor wants the slashes of the repository name encoded twice.
    const repository = encodeURIComponent(encodeURIComponent(name.slice(slash + 1)));
    const base = `/api/v2.0/projects/${project}/repositories/${repository}/artifacts?with_tag=true&with_label=true&`;
    try {
      for (let page = 1; page <= MAX_PAGES; page++) {
        const { body } = await this.#http.apiGet<unknown>(`${base}page=${page}&page_size=${PAGE}`, signal);
        if (!Array.isArray(body))
          throw new RemoteError('other', `${this.#http.display(base)}: expected a JSON array`);
        for (const [tag, version] of versionsOf(body as ArtifactJson[])) result.set(tag, version);
        if (body.length < PAGE) break;
      }
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'not-found') return result;
      throw err;
    }
    return result;
  }

  /** One tag's digest, push time, type and labels; null when the peer has no such tag. */
  async tagVersion(name: string, tag: string, signal?: AbortSignal): Promise<PeerTagVersion | null> {
    const slash = name.indexOf('/');
    if (!isRepositoryName(name) || slash < 0) return null;
    const project = encodeURIComponent(name.slice(0, slash));
    const repository = encodeURIComponent(encodeURIComponent(name.slice(slash + 1)));
    const path = `/api/v2.0/projects/${project}/repositories/${repository}/artifacts/${encodeURIComponent(tag)}?with_tag=true&with_label=true`;
    try {
      const { body } = await this.#http.apiGet<ArtifactJson | null>(path, signal);
      return versionsOf(body ? [body] : []).get(tag) ?? null;
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'not-found') return null;
      throw err;
    }
  }

  /** The tags of an artifact (by digest); empty when untagged or absent. */
  async artifactTags(name: string, digest: string, signal?: AbortSignal): Promise<string[]> {
    const slash = name.indexOf('/');
    if (!isRepositoryName(name) || slash < 0) return [];
    const project = encodeURIComponent(name.slice(0, slash));
    const repository = encodeURIComponent(encodeURIComponent(name.slice(slash + 1)));
    const path = `/api/v2.0/projects/${project}/repositories/${repository}/artifacts/${encodeURIComponent(digest)}?with_tag=true`;
    try {
      const { body } = await this.#http.apiGet<ArtifactJson | null>(path, signal);
      const tags = Array.isArray(body?.tags) ? body.tags : [];
      return tags.flatMap((t) => (typeof t?.name === 'string' ? [t.name] : []));
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'not-found') return [];
      throw err;
    }
  }

  /** The peer's tombstones for a repository (or one tag); null when it keeps none (not Wharf). */
  async tombstones(repository: string, signal?: AbortSignal, tag?: string): Promise<PeerTombstone[] | null> {
    try {
      const only = tag === undefined ? '' : `&tag=${encodeURIComponent(tag)}`;
      const { body } = await this.#http.apiGet<unknown>(
        `/api/v2.0/replication/tombstones?repository=${encodeURIComponent(repository)}${only}`,
        signal,
      );
      if (!Array.isArray(body)) return null;
      const result: PeerTombstone[] = [];
      for (const item of body as Array<Record<string, unknown>>) {
        const deletedAt = typeof item.deleted_at === 'string' ? Date.parse(item.deleted_at) : NaN;
        if (typeof item.tag === 'string' && typeof item.digest === 'string' && Number.isFinite(deletedAt))
          result.push({ tag: item.tag, digest: item.digest, deletedAt });
      }
      return result;
    } catch (err) {
      if (err instanceof RemoteError && !err.retryable) return null;
      throw err;
    }
  }

  /** Whether the peer has the project and whether it is public; null when it has no such project. */
  async project(name: string, signal?: AbortSignal): Promise<{ public: boolean } | null> {
    try {
      const { body } = await this.#http.apiGet<{ metadata?: { public?: unknown } } | null>(
        `/api/v2.0/projects/${encodeURIComponent(name)}`,
        signal,
        // A name of digits only would be read as an id without it.
        { 'x-is-resource-name': 'true' },
      );
      return { public: body?.metadata?.public === 'true' };
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'not-found') return null;
      throw err;
    }
  }

  /** Creates a project at the peer; false when it exists already (created meanwhile). */
  async createProject(name: string, isPublic: boolean, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#send(
      'POST',
      '/api/v2.0/projects',
      { project_name: name, metadata: { public: String(isPublic) } },
      signal,
    );
    if (res.status === 201 || res.status === 409) {
      await res.body.dump();
      return res.status === 201;
    }
    throw await this.#http.failure(res, `POST ${this.#http.display('/api/v2.0/projects')}`);
  }

  /** Records a tombstone at the peer; false when the peer does not support it. */
  recordTombstone(
    t: { repository: string; tag: string; digest: string; deletedAt: number },
    signal?: AbortSignal,
  ) {
    return this.#put(
      '/api/v2.0/replication/tombstones',
      {
        repository: t.repository,
        tag: t.tag,
        digest: t.digest,
        deleted_at: new Date(t.deletedAt).toISOString(),
      },
      signal,
    );
  }

  /** Records the origin push time of a tag copied to the peer; false when not supported. */
  recordTagOrigin(
    o: { repository: string; tag: string; digest: string; pushedAt: number; origin: string },
    signal?: AbortSignal,
  ) {
    return this.#put(
      '/api/v2.0/replication/tag-origins',
      {
        repository: o.repository,
        tag: o.tag,
        digest: o.digest,
        push_time: new Date(o.pushedAt).toISOString(),
        origin: o.origin,
      },
      signal,
    );
  }

  close(): Promise<void> {
    return this.#transport.close();
  }

  async #put(path: string, body: unknown, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#send('PUT', path, body, signal);
    await res.body.dump();
    if (res.status === 200 || res.status === 204) return true;
    if (res.status >= 500)
      throw new RemoteError(
        'unreachable',
        `PUT ${this.#http.display(path)} answered ${res.status}`,
        res.status,
      );
    return false;
  }

  /** A JSON request to the peer's management API; the caller reads or dumps the body. */
  async #send(method: 'PUT' | 'POST', path: string, body: unknown, signal?: AbortSignal) {
    const authorization = await this.#http.apiAuthorization(signal);
    return this.#transport.send({
      method,
      url: this.#http.resolve(path),
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        ...(authorization && { authorization }),
      },
      body: Buffer.from(JSON.stringify(body)),
      ...(signal && { signal }),
    });
  }
}
