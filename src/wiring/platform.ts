import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { createRedisBus, noClusterBus, soloBus, type ClusterBus } from '../cluster/bus.js';
import { createCoherentLookupCache } from '../cluster/coherent-cache.js';
import { createLocalLookupCache } from '../cluster/lookup-cache.js';
import { createManifestCache } from '../cluster/manifest-cache.js';
import type { WharfConfig } from '../config/schema.js';
import { createMetrics, registerSystemMetrics, type HttpMetrics } from '../http/metrics.js';
import type { Database } from '../metadata/database.js';
import { countUploadSessions } from '../metadata/uploads-table.js';
import { OutboundGuard } from '../net/outbound-guard.js';
import { nudgeAfterEventCommits } from '../services/events/nudging-database.js';
import type { RegistryDeps } from '../services/registry/deps.js';
import { loadEncryptionKey, SecretBox } from '../services/secret-box.js';
import { SystemMetrics } from '../services/system-metrics.js';
import type { Backends } from './backends.js';
import { usesExternalDatabase } from './backends.js';

// What every service area shares: the database the services write through, the instance's name,
// the cluster bus and caches, metrics, the outbound guard and the secret box, and two values known
// only later (the dispatcher to wake after commits, this instance's own URL once it listens).

/** With an external database, a cached lookup is trusted this long at most (see coherent-cache.ts). */
const LOOKUP_MAX_AGE_MS = 60_000;

export interface Platform {
  config: WharfConfig;
  logger: Logger;
  backends: Backends;
  /** The backends' database, waking the event dispatcher after each commit that recorded events. */
  db: Database;
  instanceName: string;
  /** Null without `redis` in the configuration. */
  redisBus: ClusterBus | null;
  metrics: HttpMetrics;
  /** The registry core's shared parts (database, storage, caches, limits). */
  registryDeps: RegistryDeps;
  outbound: OutboundGuard;
  /** Seals credentials (registry endpoints, webhook secrets) with a key every instance reads. */
  secretBox: SecretBox;
  /** Set once the dispatcher exists: called after each commit that recorded events. */
  late: LateBound;
}

export interface LateBound {
  nudgeDispatcher: () => void;
  /** http://host:port this instance is reached at from itself; empty until it listens. */
  localUrl: string;
}

export function buildPlatform(config: WharfConfig, logger: Logger, backends: Backends): Platform {
  const late: LateBound = { nudgeDispatcher: () => undefined, localUrl: '' };
  const db = nudgeAfterEventCommits(backends.db, () => late.nudgeDispatcher());
  const instanceName = config.cluster.instance_name ?? `${hostname()}:${config.http.port || process.pid}`;
  const redisBus = config.redis
    ? createRedisBus(config.redis, `${instanceName}/${randomUUID()}`, logger)
    : null;
  const metrics = createMetrics(() => countUploadSessions(db));
  const systemMetrics = new SystemMetrics(db);
  registerSystemMetrics(metrics.registry, () => systemMetrics.snapshot());
  const secretBox = new SecretBox(
    loadEncryptionKey(
      config.secrets.encryption_key_file ?? join(config.data_dir, 'secrets', 'encryption.key'),
      config.secrets.encryption_key_file === undefined,
    ),
  );
  return {
    config,
    logger,
    backends,
    db,
    instanceName,
    redisBus,
    metrics,
    registryDeps: registryDeps(config, db, backends, redisBus, metrics),
    outbound: new OutboundGuard(config.outbound),
    secretBox,
    late,
  };
}

function registryDeps(
  config: WharfConfig,
  db: Database,
  backends: Backends,
  redisBus: ClusterBus | null,
  metrics: HttpMetrics,
): RegistryDeps {
  const external = usesExternalDatabase(config);
  // The embedded database admits one process, which sees every write: its cache is exact. With
  // an external one, other instances write too: the cache hears of their writes through Redis,
  // and is off while it cannot (no Redis configured, or Redis unreachable).
  const cacheBus = external ? (redisBus ?? noClusterBus) : soloBus;
  return {
    db,
    storage: backends.storage,
    manifestCache: createManifestCache(64 * 1024 * 1024),
    lookups: createCoherentLookupCache(
      createLocalLookupCache(100_000, external ? LOOKUP_MAX_AGE_MS : Infinity),
      cacheBus,
      (outcome) => metrics.lookupCache.inc({ outcome }),
    ),
    limits: {
      manifestMaxBytes: config.limits.manifest_max_bytes,
      maxBlobBytes: config.limits.max_blob_size_bytes,
      maxUploadSessionsPerOwner: config.limits.max_upload_sessions_per_principal,
    },
    tombstoneTtlMs: config.replication.tombstone_days * 86_400_000,
  };
}
