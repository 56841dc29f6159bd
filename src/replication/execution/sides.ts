import { harborArtifactType } from '../../domain/artifact-type.js';
import type { Database } from '../../metadata/database.js';
import { tagArtifactFacts } from '../../metadata/labels-table.js';
import { listRepositoryNames } from '../../metadata/repositories-table.js';
import {
  listTombstonedRepositories,
  listTombstones,
  localTagStates,
  putTombstone,
  recordTagOrigin,
} from '../../metadata/tombstones-table.js';
import type { ProjectService } from '../../services/project-service.js';
import type { BlobService } from '../../services/registry/blob-service.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import type { RegistryEndpointService } from '../../services/registry-endpoint-service.js';
import type { TokenService } from '../../services/token-service.js';
import type { ArtifactFacts } from '../plan/index.js';
import { RemoteError, RemoteRegistry } from '../../remote/index.js';
import type { LocalBlobReader } from '../../remote/config.js';
import { RegistryError } from '../../domain/errors.js';
import { messageOf } from './failures.js';
import { PeerApi, type PeerTagVersion, type PeerTombstone } from './peer-api.js';
import { renewingTokenSource } from './system-tokens.js';
import { EXECUTION_DEFAULTS } from './types.js';

// The two sides of a policy as one interface: a registry endpoint (remote) or this registry.
// This registry is listed from its own tables (indexed, one query per repository instead of a
// HEAD per tag over HTTP) and read and written over loopback like any peer, with a short-lived
// token for exactly the repositories of the task, minted in-process and renewed while it is used.
//
// For two-way replication a side also tells when each tag got its digest (push times, the
// origin's for tags replication wrote) and which tags were deleted (tombstones), and records
// both for what replication writes to it. This registry does so from its own tables; a Harbor or
// Wharf peer through its API (peer-api.ts); a docker-registry cannot (null: one-way planning).

export interface Side {
  /** The registry endpoint; null for this registry. */
  readonly registryId: number | null;
  repositories(signal?: AbortSignal): AsyncGenerator<string>;
  /**
   * Digests with push times and tombstones, as far as the side can tell; artifact facts only
   * with `facts` (where they cost a query of their own).
   */
  tagRecords(repository: string, signal?: AbortSignal, options?: { facts?: boolean }): Promise<TagRecords>;
  /** The same for one tag only (a task's checks: no listing of the whole repository). */
  tagRecord(repository: string, tag: string, signal?: AbortSignal): Promise<TagRecords>;
  /** Records the origin push time of a tag replication wrote here; false when unsupported. */
  recordOrigin(o: OriginRecord, signal?: AbortSignal): Promise<boolean>;
  /** Records a deletion replication made here, with the origin's time; false when unsupported. */
  recordDeletion(t: DeletionRecord, signal?: AbortSignal): Promise<boolean>;
  /**
   * The tags of an artifact (by digest; empty when untagged or absent); undefined when the side
   * cannot tell (any OCI registry that is not Harbor or Wharf, where a manifest goes with its tag).
   */
  artifactTags(repository: string, digest: string, signal?: AbortSignal): Promise<string[] | undefined>;
  /**
   * A project of the side: null when missing, undefined when the side has no projects (any
   * OCI registry that is not Harbor or Wharf).
   */
  project(name: string, signal?: AbortSignal): Promise<{ public: boolean } | null | undefined>;
  /** Creates a missing project (replication's destination); false when it existed already. */
  createProject(name: string, isPublic: boolean, signal?: AbortSignal): Promise<boolean>;
  /** Whether tagRecords gives push times (this registry, a Harbor or Wharf peer). */
  readonly tellsPushTimes: boolean;
  /** How the side names itself as an origin (its URL). */
  readonly name: string;
  /** A client that reads and writes the side's repositories (this registry's: a token per request). */
  client(): Promise<RemoteRegistry>;
  close(): Promise<void>;
}

export interface SideDeps {
  db: Database;
  registries: RegistryEndpointService;
  tokens: TokenService;
  /** This registry's projects, for the destination projects replication makes here. */
  projects: Pick<ProjectService, 'find' | 'ensureForReplication'>;
  /** This registry's blobs, read straight from storage by replication's copies. */
  blobs?: Pick<BlobService, 'readFrom'>;
  /** This instance's own loopback URL; known once the server listens. */
  localUrl: () => string;
  /** How long tombstones count (default 7 days, TOMBSTONE_TTL_MS). */
  tombstoneTtlMs?: number;
}

export interface TagRecords {
  digests: Map<string, string>;
  /** tag → push time (ms); null when the side gives none (then two-way planning is off). */
  pushTimes: Map<string, number> | null;
  /** tag → unexpired tombstone; null when the side keeps none. */
  tombstones: Map<string, { digest: string; deletedAt: number }> | null;
  /**
   * tag → what the label and resource filters look at; null when the side cannot tell (any
   * OCI registry: its artifacts count as images without labels, as in Harbor).
   */
  facts: Map<string, ArtifactFacts> | null;
}

export interface OriginRecord {
  repository: string;
  tag: string;
  digest: string;
  pushedAt: number;
  origin: string;
}

export interface DeletionRecord {
  repository: string;
  tag: string;
  digest: string;
  deletedAt: number;
}

export function tombstoneTtlOf(deps: Pick<SideDeps, 'tombstoneTtlMs'>): number {
  return deps.tombstoneTtlMs ?? EXECUTION_DEFAULTS.tombstoneTtlMs;
}

export async function sidesOf(
  deps: SideDeps,
  policy: ReplicationPolicy,
): Promise<{ source: Side; destination: Side; close(): Promise<void> }> {
  const side = (id: number | null) => (id === null ? localSide(deps) : remoteSide(deps, id));
  const source = await side(policy.srcRegistryId);
  const destination = await side(policy.destRegistryId);
  return {
    source,
    destination,
    close: async () => {
      await Promise.allSettled([source.close(), destination.close()]);
    },
  };
}

async function remoteSide(deps: SideDeps, id: number): Promise<Side> {
  const config = await deps.registries.remoteConfig(id);
  const client = new RemoteRegistry(config);
  let api: PeerApi | null = null;
  const peerApi = () => (api ??= new PeerApi(config));
  return {
    registryId: id,
    tellsPushTimes: config.type === 'harbor',
    name: client.url,
    repositories: (signal) => client.repositories(signal),
    async tagRecords(name, signal) {
      if (config.type !== 'harbor') {
        return {
          digests: await client.tagDigests(name, signal),
          pushTimes: null,
          tombstones: null,
          facts: null,
        };
      }
      const versions = await peerApi().tagVersions(name, signal);
      const listed = await peerApi().tombstones(name, signal);
      return peerRecords(versions, listed, Date.now() - tombstoneTtlOf(deps));
    },
    async tagRecord(name, tag, signal) {
      if (config.type !== 'harbor') {
        const stat = await client.headManifest(name, tag, signal);
        return {
          digests: new Map(stat ? [[tag, stat.digest]] : []),
          pushTimes: null,
          tombstones: null,
          facts: null,
        };
      }
      const version = await peerApi().tagVersion(name, tag, signal);
      // A peer without the tag filter (an older Wharf) lists them all: the tag's is picked.
      const listed = (await peerApi().tombstones(name, signal, tag))?.filter((t) => t.tag === tag) ?? null;
      return peerRecords(new Map(version ? [[tag, version]] : []), listed, Date.now() - tombstoneTtlOf(deps));
    },
    project: async (name, signal) => (config.type === 'harbor' ? peerApi().project(name, signal) : undefined),
    createProject: async (name, isPublic, signal) =>
      config.type === 'harbor' && peerApi().createProject(name, isPublic, signal),
    recordOrigin: async (o, signal) => config.type === 'harbor' && peerApi().recordTagOrigin(o, signal),
    recordDeletion: async (t, signal) => config.type === 'harbor' && peerApi().recordTombstone(t, signal),
    artifactTags: async (name, digest, signal) =>
      config.type === 'harbor' ? peerApi().artifactTags(name, digest, signal) : undefined,
    client: async () => client,
    close: async () => {
      await Promise.allSettled([client.close(), api?.close()]);
    },
  };
}

/** A Harbor or Wharf peer's records from its artifacts (versions) and its tombstones, if any. */
function peerRecords(
  versions: ReadonlyMap<string, PeerTagVersion>,
  listed: readonly PeerTombstone[] | null,
  since: number,
): TagRecords {
  const digests = new Map([...versions].map(([tag, v]) => [tag, v.digest]));
  const facts = new Map(
    [...versions].map(([tag, v]) => [tag, { type: v.type ?? 'IMAGE', labels: v.labels }] as const),
  );
  let pushTimes: Map<string, number> | null = new Map();
  for (const [tag, v] of versions) {
    if (v.pushedAt === null) pushTimes = null;
    else pushTimes?.set(tag, v.pushedAt);
  }
  const tombstones =
    listed === null
      ? null
      : new Map(
          listed
            .filter((t) => t.deletedAt > since)
            .map((t) => [t.tag, { digest: t.digest, deletedAt: t.deletedAt }] as const),
        );
  return { digests, pushTimes, tombstones, facts };
}

const PAGE = 500;

function localSide(deps: SideDeps): Side {
  const clients: RemoteRegistry[] = [];
  return {
    registryId: null,
    tellsPushTimes: true,
    repositories: (signal) => localRepositories(deps, signal),
    get name() {
      return deps.localUrl();
    },
    tagRecord: (name, tag) => localTagRecords(deps, name, { tag, facts: false }),
    tagRecords: (name, _signal, options) => localTagRecords(deps, name, { facts: options?.facts ?? false }),
    async project(name) {
      const row = await deps.projects.find(name, true);
      return row && { public: row.public };
    },
    createProject: (name, isPublic) => deps.projects.ensureForReplication(name, isPublic),
    recordOrigin: (o) =>
      recordTagOrigin(deps.db, {
        repository: o.repository,
        tag: o.tag,
        digest: o.digest,
        pushTime: new Date(o.pushedAt),
        origin: o.origin,
      }),
    async artifactTags(name, digest) {
      const states = await localTagStates(deps.db, name);
      return [...states].filter(([, s]) => s.digest === digest).map(([tag]) => tag);
    },
    recordDeletion: (t) =>
      putTombstone(deps.db, {
        repository: t.repository,
        tag: t.tag,
        digest: t.digest,
        deleted_at: new Date(t.deletedAt),
      }),
    async client() {
      const client = new RemoteRegistry({
        url: deps.localUrl(),
        type: 'docker-registry',
        credential: renewingTokenSource((wanted) => deps.tokens.issueSystem(wanted)),
        ...(deps.blobs && { localBlobs: localBlobReader(deps.blobs) }),
      });
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
    },
  };
}

async function* localRepositories(deps: SideDeps, signal?: AbortSignal): AsyncGenerator<string> {
  let last: string | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const page = await listRepositoryNames(deps.db, last, PAGE);
    yield* page;
    if (page.length < PAGE) break;
    last = page[page.length - 1];
  }
  // Repositories deleted here whose tombstones count: their deletions still have to reach
  // the destinations (a policy whose peer was away when the repository went).
  const since = new Date(Date.now() - tombstoneTtlOf(deps));
  for (last = undefined; ;) {
    signal?.throwIfAborted();
    const page = await listTombstonedRepositories(deps.db, since, last, PAGE);
    yield* page;
    if (page.length < PAGE) return;
    last = page[page.length - 1];
  }
}

/** This registry's tags of a repository (or one tag), with push times, tombstones and maybe facts. */
async function localTagRecords(
  deps: SideDeps,
  name: string,
  options: { tag?: string; facts: boolean },
): Promise<TagRecords> {
  const states = await localTagStates(deps.db, name, options.tag);
  const since = new Date(Date.now() - tombstoneTtlOf(deps));
  const rows = await listTombstones(deps.db, name, since, options.tag);
  const facts = options.facts
    ? new Map(
        [...(await tagArtifactFacts(deps.db, name))].map(
          ([tag, f]) =>
            [tag, { type: harborArtifactType(f.mediaType, f.configMediaType), labels: f.labels }] as const,
        ),
      )
    : null;
  return {
    facts,
    digests: new Map([...states].map(([tag, s]) => [tag, s.digest])),
    pushTimes: new Map([...states].map(([tag, s]) => [tag, s.pushedAt.getTime()])),
    tombstones: new Map(rows.map((r) => [r.tag, { digest: r.digest, deletedAt: r.deleted_at.getTime() }])),
  };
}

/** Blob reads of this registry without its HTTP listener, failing as a peer's would. */
function localBlobReader(blobs: Pick<BlobService, 'readFrom'>): LocalBlobReader {
  return async (name, digest, offset) => {
    try {
      return await blobs.readFrom(name, digest, offset);
    } catch (err) {
      if (err instanceof RegistryError) {
        const kind = err.code === 'BLOB_UNKNOWN' || err.code === 'NAME_UNKNOWN' ? 'not-found' : 'other';
        throw new RemoteError(kind, `blob ${digest} of ${name}: ${err.message}`, undefined, err.code);
      }
      // Storage or database trouble is passing, as a 5xx from a peer is: retried.
      throw new RemoteError(
        'unreachable',
        `reading blob ${digest} of ${name}: ${messageOf(err)}`,
        undefined,
        undefined,
        {
          cause: err,
        },
      );
    }
  };
}
