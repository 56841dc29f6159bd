import type { Database } from '../../metadata/database.js';
import { localTagDigests } from '../../metadata/replication-executions-table.js';
import { listRepositoryNames } from '../../metadata/repositories-table.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import type { RegistryEndpointService } from '../../services/registry-endpoint-service.js';
import type { TokenService } from '../../services/token-service.js';
import { RemoteRegistry } from '../remote/index.js';

// The two sides of a policy as one interface: a registry endpoint (remote) or this registry.
// This registry is listed from its own tables (indexed, one query per repository instead of a
// HEAD per tag over HTTP) and read and written over loopback like any peer, with a short-lived
// token for exactly the repositories of the task, minted in-process per use.

export interface Side {
  /** The registry endpoint; null for this registry. */
  readonly registryId: number | null;
  repositories(signal?: AbortSignal): AsyncGenerator<string>;
  tagDigests(repository: string, signal?: AbortSignal): Promise<Map<string, string>>;
  /** A client that may read and write these repositories. */
  client(repositories: readonly string[]): Promise<RemoteRegistry>;
  close(): Promise<void>;
}

export interface SideDeps {
  db: Database;
  registries: RegistryEndpointService;
  tokens: TokenService;
  localUrl: () => string;
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
  const client = await deps.registries.client(id);
  return {
    registryId: id,
    repositories: (signal) => client.repositories(signal),
    tagDigests: (name, signal) => client.tagDigests(name, signal),
    client: async () => client,
    close: () => client.close(),
  };
}

const PAGE = 500;

function localSide(deps: SideDeps): Side {
  const clients: RemoteRegistry[] = [];
  return {
    registryId: null,
    async *repositories(signal) {
      let last: string | undefined;
      for (;;) {
        signal?.throwIfAborted();
        const page = await listRepositoryNames(deps.db, last, PAGE);
        yield* page;
        if (page.length < PAGE) return;
        last = page[page.length - 1];
      }
    },
    tagDigests: (name) => localTagDigests(deps.db, name),
    async client(repositories) {
      const token = await deps.tokens.issueSystem(repositories);
      const client = new RemoteRegistry({
        url: deps.localUrl(),
        type: 'docker-registry',
        credential: { type: 'oauth', accessKey: '', accessSecret: token.token },
      });
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
    },
  };
}
