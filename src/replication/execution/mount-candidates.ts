import type { Database } from '../../metadata/database.js';
import { repositoriesHoldingBlob } from '../../metadata/blobs-table.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import { compileFilters, destinationRepository } from '../plan/index.js';

// Where a blob the destination lacks may be mounted from instead of sent, as far as this
// registry knows. Pull into this registry: the local repositories of the destination's own
// project that hold it (exact; never another project's: a remote manifest naming the digest of
// a private layer elsewhere must not get that layer without sending its bytes). Push from
// this registry: where this policy puts the other local repositories holding it (their copies
// hold it at the destination once replicated; a repository not replicated yet costs one refused
// mount). Between two peers this registry knows nothing: no candidates.

/** How many holders are looked at per blob. */
const LOOKED_AT = 20;

export type MountCandidates = (digest: string) => Promise<readonly string[]>;

export function mountCandidatesFor(
  db: Database,
  policy: ReplicationPolicy,
  sides: { sourceIsLocal: boolean; destinationIsLocal: boolean },
  destinationRepositoryName: string,
): MountCandidates | undefined {
  const others = (names: readonly string[]) => names.filter((n) => n !== destinationRepositoryName);
  if (sides.destinationIsLocal) {
    const project = `${destinationRepositoryName.split('/')[0] ?? ''}/`;
    return async (digest) => others(await repositoriesHoldingBlob(db, digest, LOOKED_AT, project));
  }
  if (!sides.sourceIsLocal) return undefined;
  const filters = compileFilters(policy.filters);
  return async (digest) => {
    const mapped: string[] = [];
    for (const name of await repositoriesHoldingBlob(db, digest, LOOKED_AT)) {
      if (!filters.repository(name)) continue;
      const target = destinationRepository(name, policy.destNamespace, policy.destNamespaceReplaceCount);
      if (target.ok) mapped.push(target.name);
    }
    return others([...new Set(mapped)]);
  };
}
