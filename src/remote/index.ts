// The remote-registry client, as replication uses it.
export { RemoteRegistry, normaliseUrl, type PingResult } from './remote-registry.js';
export { RemoteError, isRemoteError, type RemoteErrorKind } from './errors.js';
export {
  REMOTE_REGISTRY_TYPES,
  type RemoteCredential,
  type RemoteRegistryConfig,
  type RemoteRegistryType,
} from './config.js';
export type { BlobStat, BlobStream } from './blobs.js';
export type { ManifestStat, PutManifestAnswer, RemoteManifest } from './manifests.js';
export type { ReferrerDescriptor, Referrers } from './referrers.js';
export type { MountResult, UploadSession } from './uploads.js';
