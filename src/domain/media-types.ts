// Media types the registry understands as manifests. Anything else is refused on manifest PUT.

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';

export type ManifestKind = 'image' | 'index';

const KINDS: Record<string, ManifestKind> = {
  [OCI_MANIFEST]: 'image',
  [DOCKER_MANIFEST]: 'image',
  [OCI_INDEX]: 'index',
  [DOCKER_MANIFEST_LIST]: 'index',
};

export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.keys(KINDS);

export function manifestKind(mediaType: string): ManifestKind | undefined {
  return KINDS[mediaType];
}

/** Layer media types whose bytes live elsewhere (descriptor `urls`) and need not be pushed. */
export function isForeignLayer(mediaType: string): boolean {
  return (
    mediaType === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' ||
    mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.')
  );
}

/** Strips parameters and whitespace: `application/json; charset=utf-8` → `application/json`. */
export function baseMediaType(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const base = header.split(';')[0]?.trim().toLowerCase();
  return base ? base : undefined;
}
