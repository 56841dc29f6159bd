import { DOCKER_MANIFEST_LIST, OCI_INDEX } from './media-types.js';

// Harbor's artifact type (the `type` of its artifact API, and what a replication policy's
// resource filter selects): derived from the manifest's media type and its config's.

export type HarborArtifactType = 'IMAGE' | 'CHART' | 'UNKNOWN';

const IMAGE_CONFIGS = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);
export const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set([OCI_INDEX, DOCKER_MANIFEST_LIST]);

/** `configMediaType`: the config's media type (the manifests table's artifact_type), if any. */
export function harborArtifactType(mediaType: string, configMediaType: string | null): HarborArtifactType {
  if (INDEX_MEDIA_TYPES.has(mediaType)) return 'IMAGE';
  const config = configMediaType ?? '';
  if (IMAGE_CONFIGS.has(config)) return 'IMAGE';
  return config === HELM_CONFIG ? 'CHART' : 'UNKNOWN';
}
