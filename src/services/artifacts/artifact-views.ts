import { harborArtifactType, INDEX_MEDIA_TYPES } from '../../domain/artifact-type.js';
import { RegistryError } from '../../domain/errors.js';
import {
  artifactSizes,
  childrenOf,
  tagsOfManifests,
  type ArtifactRow,
  type RepositoryListRow,
  type TagRow,
} from '../../metadata/artifacts-query.js';
import type { Database } from '../../metadata/database.js';
import { labelsOfManifests, type LabelRow } from '../../metadata/labels-table.js';
import type { ProjectRow } from '../../metadata/projects-table.js';
import type { ManifestService } from '../registry/manifest-service.js';
import { immutableTagsOf } from './immutable-tags.js';

// The management API's view of an artifact (Harbor's artifact JSON before its field names): what
// a listing or a single artifact read shows, built for one page of rows at once.

const INDEXES = INDEX_MEDIA_TYPES;

export interface ArtifactView {
  row: ArtifactRow;
  repositoryName: string;
  projectId: number;
  size: number;
  type: string;
  /** Harbor's media_type: the config media type of an image, the manifest media type of an index. */
  mediaType: string;
  tags: TagView[] | null;
  /** Null unless asked for (Harbor's with_label). */
  labels: LabelRow[] | null;
  references: Array<{ parentId: number; childId: number; childDigest: string; platform: unknown }>;
}

/** A tag as the API shows it: `immutable` when asked (with_immutable_status) and a rule protects it. */
export type TagView = TagRow & { immutable: boolean };

/** What an artifact view carries besides the artifact itself (Harbor's with_tag, with_label, ...). */
export interface ArtifactViewOptions {
  withTag: boolean;
  withLabel: boolean;
  /** Harbor's with_immutable_status: each tag says whether a rule protects it (else false). */
  withImmutableStatus?: boolean;
}

/** The tags with their immutability: computed when asked, false otherwise (as Harbor). */
export async function tagViews(
  db: Database,
  repositoryName: string,
  tags: readonly TagRow[],
  withImmutableStatus: boolean,
): Promise<TagView[]> {
  const immutable = withImmutableStatus
    ? await immutableTagsOf(
        db,
        repositoryName,
        tags.map((t) => t.name),
      )
    : new Set<string>();
  return tags.map((t) => ({ ...t, immutable: immutable.has(t.name) }));
}

/** The API's views of a page of artifacts: sizes, type, tags and labels (when asked), children. */
export async function artifactViews(
  db: Database,
  manifests: ManifestService,
  project: ProjectRow,
  repository: RepositoryListRow,
  rows: ArtifactRow[],
  options: ArtifactViewOptions,
): Promise<ArtifactView[]> {
  const { withTag, withLabel } = options;
  const ids = rows.map((r) => r.id);
  const sizes = await artifactSizes(db, ids);
  const tags = withTag
    ? await tagViews(
        db,
        repository.name,
        await tagsOfManifests(db, ids),
        options.withImmutableStatus ?? false,
      )
    : [];
  const labels = withLabel ? await labelsOfManifests(db, ids) : null;
  const indexIds = rows.filter((r) => INDEXES.has(r.media_type)).map((r) => r.id);
  const children = await childrenOf(db, indexIds);
  const views: ArtifactView[] = [];
  for (const row of rows) {
    const isIndex = INDEXES.has(row.media_type);
    const own = children.filter((c) => c.parent_id === row.id);
    const platforms =
      isIndex && own.length > 0 ? await platformsOf(manifests, repository.name, row.digest) : new Map();
    const configType = row.artifact_type ?? '';
    views.push({
      row,
      repositoryName: repository.name,
      projectId: project.id,
      size: sizes.get(row.id) ?? row.size,
      type: harborArtifactType(row.media_type, row.artifact_type),
      mediaType: isIndex ? row.media_type : configType || row.media_type,
      tags: withTag ? tags.filter((t) => t.manifest_id === row.id) : null,
      labels: labels ? (labels.get(row.id) ?? []) : null,
      references: own.map((c) => ({
        parentId: c.parent_id,
        childId: c.child_id,
        childDigest: c.child_digest,
        platform: platforms.get(c.child_digest) ?? null,
      })),
    });
  }
  return views;
}

/** The platform of each child descriptor of an index, read from the stored index. */
async function platformsOf(
  manifests: ManifestService,
  repositoryName: string,
  digest: string,
): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  try {
    const content = await manifests.get(repositoryName, digest);
    const doc = JSON.parse(content.bytes.toString('utf8')) as { manifests?: unknown };
    if (!Array.isArray(doc.manifests)) return out;
    for (const entry of doc.manifests as unknown[]) {
      if (typeof entry !== 'object' || entry === null) continue;
      const d = entry as { digest?: unknown; platform?: unknown };
      if (typeof d.digest === 'string' && d.platform !== undefined && !out.has(d.digest)) {
        out.set(d.digest, d.platform);
      }
    }
  } catch (err) {
    // A missing or unreadable index leaves the platforms out; the artifact is still listed.
    if (!(err instanceof RegistryError) && !(err instanceof SyntaxError)) throw err;
  }
  return out;
}
