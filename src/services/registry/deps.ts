import type { Database } from '../../metadata/database.js';
import type { StorageDriver } from '../../storage/driver.js';
import type { LookupCache } from '../../cluster/lookup-cache.js';
import type { ManifestCache } from '../../cluster/manifest-cache.js';

/** What the registry services work with; built once per process by the server. */
export interface RegistryDeps {
  db: Database;
  storage: StorageDriver;
  manifestCache: ManifestCache;
  /** Hot-path lookups; invalidate the repository on every write to it. */
  lookups: LookupCache;
  limits: {
    manifestMaxBytes: number;
    /** Largest blob accepted (limits.max_blob_size_bytes); 0 or absent: unlimited. */
    maxBlobBytes?: number;
    /** Open upload sessions per owner (limits.max_upload_sessions_per_principal); 0 or absent: unlimited. */
    maxUploadSessionsPerOwner?: number;
  };
  /** How long a tombstone beats older replicated writes (replication.tombstone_days; default 7 days). */
  tombstoneTtlMs?: number;
}
