import { RegistryError } from '../../domain/errors.js';
import type { EventActor } from '../../domain/events.js';
import {
  accessoriesOf,
  deleteManifestRows,
  listedOutside,
  releasedChildren,
  tagNamesOf,
  type CascadeRow,
} from '../../metadata/artifact-deletion-queries.js';
import { findArtifactByDigest } from '../../metadata/artifacts-query.js';
import type { Queryable } from '../../metadata/database.js';
import { recordEvents } from '../../metadata/outbox-table.js';
import type { RepositoryRow } from '../../metadata/repositories-table.js';
import { artifactDeleted } from './artifact-events.js';

// The one delete rule set for manifests, whoever asks (/v2 DELETE by digest, the API's artifact
// delete, later retention and GC). Deleting a manifest takes with it, transitively:
//   - its tags (tombstones kept, so two-way replication never brings them back);
//   - its accessories: manifests whose subject it is (signatures, SBOMs, any referrer);
//   - the children of an index that carry no tag and that no manifest left behind lists.
// It is refused (412) while an index outside the cascade lists one of the manifests it would
// remove: the index must go first, so that no index ever names a missing child.
// As Harbor's deleteDeeply (src/controller/artifact/controller.go) except that every accessory
// goes (Harbor keeps "soft" ones) and an event is recorded for every manifest removed, not only
// for the root.

/** The manifests one deletion removes, the one asked for first. */
export async function planCascade(tx: Queryable, repo: RepositoryRow, digest: string): Promise<CascadeRow[]> {
  const found = await findArtifactByDigest(tx, repo.id, digest);
  if (!found) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${digest} is not in repository ${repo.name}`);
  }
  const root: CascadeRow = {
    id: found.id,
    digest: found.digest,
    media_type: found.media_type,
    size: found.size,
  };
  const cascade: CascadeRow[] = [root];
  // Grow to a fixed point: an accessory may be an index with children, a released child may
  // have accessories, and a child is released only once every index listing it is in.
  for (let added: CascadeRow[] = [root]; added.length > 0;) {
    const ids = cascade.map((m) => Number(m.id));
    const accessories = await accessoriesOf(
      tx,
      repo.id,
      added.map((m) => m.digest),
      ids,
    );
    cascade.push(...accessories);
    const children = await releasedChildren(
      tx,
      repo.id,
      cascade.map((m) => Number(m.id)),
    );
    cascade.push(...children);
    added = [...accessories, ...children];
  }
  const listed = await listedOutside(
    tx,
    repo.id,
    cascade.map((m) => Number(m.id)),
  );
  const first = listed[0];
  if (first) {
    throw new RegistryError(
      'DENIED',
      `manifest ${first.digest} is listed by index ${first.index_digest} in ${repo.name}; delete the index first`,
      { listedBy: listed.map((l) => ({ manifest: l.digest, index: l.index_digest })) },
      412,
    );
  }
  return cascade;
}

/** Deletes the planned manifests and records artifact.deleted for each, with the tags it had. */
export async function deleteCascade(
  tx: Queryable,
  repo: RepositoryRow,
  cascade: readonly CascadeRow[],
  actor: EventActor,
): Promise<void> {
  const tags = await tagNamesOf(
    tx,
    cascade.map((m) => Number(m.id)),
  );
  await deleteManifestRows(tx, repo.id, repo.name, cascade);
  await recordEvents(
    tx,
    cascade.map((m) =>
      artifactDeleted(
        actor,
        repo.name,
        { digest: m.digest, mediaType: m.media_type, size: Number(m.size) },
        tags.get(Number(m.id)) ?? [],
      ),
    ),
  );
}

/** True when `err` is the cascade's refusal (an index still lists a manifest it would remove). */
export function isListedByIndexRefusal(err: unknown): err is RegistryError {
  return err instanceof RegistryError && err.code === 'DENIED' && err.status === 412;
}
