import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedisBus, noClusterBus, soloBus } from './cluster/bus.js';
import { createCoherentLookupCache } from './cluster/coherent-cache.js';
import { createLocalLookupCache } from './cluster/lookup-cache.js';
import { createManifestCache } from './cluster/manifest-cache.js';
import { signInRequired, type WharfConfig } from './config/schema.js';
import { buildApp } from './http/app.js';
import { createMetrics } from './http/metrics.js';
import type { Database } from './metadata/database.js';
import { migrate } from './metadata/migrate.js';
import { openPgliteDatabase } from './metadata/pglite-database.js';
import { connectionSettings, openPostgresDatabase } from './metadata/postgres-database.js';
import { countUploadSessions } from './metadata/uploads-table.js';
import { AccessService } from './services/access-service.js';
import { AuditService } from './services/audit-service.js';
import { PullStatsService } from './services/pull-stats-service.js';
import { SessionService } from './services/session-service.js';
import { SettingsService } from './services/settings-service.js';
import { ProjectService } from './services/project-service.js';
import { UserService } from './services/user-service.js';
import { MemberService } from './services/member-service.js';
import { RobotService } from './services/robot-service.js';
import { CatalogApiService } from './services/catalog-api-service.js';
import { LabelService } from './services/labels-service.js';
import { RegistryEndpointService } from './services/registry-endpoint-service.js';
import { ReplicationPolicyService } from './services/replication-policy-service.js';
import { ReplicationExecutionService, type EventPayload } from './replication/execution/index.js';
import type { Principal } from './services/principal.js';
import { loadEncryptionKey, SecretBox } from './services/secret-box.js';
import { AuthService } from './services/auth-service.js';
import { loadTokenKeys } from './services/token-keys.js';
import { TokenService } from './services/token-service.js';
import { initialiseDatabase, type FirstAccount } from './services/first-account.js';
import { ServiceError } from './services/service-error.js';
import { ConfigError } from './config/load.js';
import { secureEmbeddedDatabase, securePrivatePaths } from './private-paths.js';
import { BlobService } from './services/registry/blob-service.js';
import type { RegistryDeps } from './services/registry/deps.js';
import { ListingService } from './services/registry/listing-service.js';
import { ManifestService } from './services/registry/manifest-service.js';
import { purgeStaleUploads } from './services/registry/upload-janitor.js';
import { BackgroundTasks } from './services/background-tasks.js';
import { JobService } from './jobs/job-service.js';
import { UploadService } from './services/registry/upload-service.js';
import type { StorageDriver } from './storage/driver.js';
import { FilesystemDriver } from './storage/filesystem-driver.js';
import { S3Driver } from './storage/s3-driver.js';
import { OutboundGuard } from './net/outbound-guard.js';

// The composition root: builds every component from the configuration and owns their lifecycle.

/** With an external database, a cached lookup is trusted this long at most (see coherent-cache.ts). */
const LOOKUP_MAX_AGE_MS = 60_000;

function redisCheck(redis: () => Redis | null): () => Promise<void> {
  return async () => {
    const client = redis();
    if (!client) throw new Error('no redis connection');
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
  };
}

export interface Backends {
  db: Database;
  storage: StorageDriver;
  /** Closes the database and releases the storage's connections. */
  close(): Promise<void>;
}

export async function openBackends(config: WharfConfig): Promise<Backends> {
  const s3 = config.storage.s3 ? new S3Driver(config.storage.s3) : null;
  const storage =
    s3 ?? new FilesystemDriver(config.storage.filesystem?.root ?? join(config.data_dir, 'storage'));
  const db = usesExternalDatabase(config)
    ? await openPostgresDatabase({
        connection: connectionSettings(config.database),
        poolSize: config.database.pool_size,
      })
    : await openPgliteDatabase(join(config.data_dir, 'pg'));
  const close = async () => {
    s3?.close();
    await db.close();
  };
  try {
    await secureEmbeddedDatabase(config);
    await migrate(db);
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return { db, storage, close };
}

/** An external PostgreSQL (shared by instances) rather than the embedded, single-process PGlite. */
export function usesExternalDatabase(config: WharfConfig): boolean {
  return config.database.url !== undefined || config.database.host !== undefined;
}

export interface RunningServer {
  app: FastifyInstance;
  /** http://host:port actually bound (port 0 in the configuration picks a free one). */
  url: string;
  port: number;
  /** The name in every response's X-Wharf-Instance header. */
  instanceName: string;
  /**
   * Drains (not ready for shutdown.drain_seconds unless `drain` is false), then stops accepting,
   * lets in-flight requests finish (bounded by shutdown.grace_seconds), closes the backends.
   */
  shutdown(options?: { drain?: boolean }): Promise<void>;
}

export function createLogger(config: WharfConfig): Logger {
  return pino({
    level: config.log.level,
    // Credentials never reach the log, whatever logs a request or an error.
    redact: [
      'req.headers.authorization',
      'headers.authorization',
      '*.password',
      'password',
      '*.access_secret',
      'access_secret',
    ],
  });
}

export interface StartHooks {
  /**
   * Called as soon as the first account has been committed (the database's initialisation), before
   * anything else that could fail: a generated password printed here is never lost to a later error.
   */
  onFirstAccount?: (account: FirstAccount) => void;
}

export async function startServer(
  config: WharfConfig,
  logger: Logger,
  hooks: StartHooks = {},
): Promise<RunningServer> {
  await securePrivatePaths(config, logger);
  const backends = await openBackends(config);
  // First, before any connection that would keep a failed start alive (Redis) is opened.
  await initialiseOnce(config, backends, logger, hooks);
  const { db, storage } = backends;
  const instanceName = config.cluster.instance_name ?? `${hostname()}:${config.http.port || process.pid}`;
  const external = usesExternalDatabase(config);
  const redisBus = config.redis
    ? createRedisBus(config.redis, `${instanceName}/${randomUUID()}`, logger)
    : null;
  // The embedded database admits one process, which sees every write: its cache is exact. With
  // an external one, other instances write too: the cache hears of their writes through Redis,
  // and is off while it cannot (no Redis configured, or Redis unreachable).
  const cacheBus = external ? (redisBus ?? noClusterBus) : soloBus;
  const metrics = createMetrics(() => countUploadSessions(db));
  const deps: RegistryDeps = {
    db,
    storage,
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
  const auth = new AuthService(db, {
    windowSeconds: config.login.failure_window_seconds,
    maxFailuresPerAccount: config.login.max_failures_per_account,
    maxFailuresPerAddress: config.login.max_failures_per_address,
    lockSeconds: config.login.lock_seconds,
  });
  if (config.auth.anonymous_pull !== undefined) {
    logger.warn(
      { anonymous_pull: config.auth.anonymous_pull, require_signin: signInRequired(config.auth) },
      'auth.anonymous_pull is deprecated: use auth.require_signin (public projects are pullable by anyone unless it is true)',
    );
  }
  const access = new AccessService(db, deps.lookups, { requireSignIn: signInRequired(config.auth) });
  const pullStats = new PullStatsService(db, (err) => logger.warn({ err }, 'writing pull statistics failed'));
  const audit = new AuditService(db, { auditPulls: config.audit.log_pulls }, (err) =>
    logger.warn({ err }, 'writing pull audit records failed'),
  );
  const settings = new SettingsService(db);
  const projects = new ProjectService(
    db,
    access,
    async () => (await settings.get()).project_creation_restriction,
  );
  const tokenKeyFile =
    config.auth.token.signing_key_file ?? join(config.data_dir, 'secrets', 'token-signing-key.pem');
  const tokens = new TokenService(
    await loadTokenKeys(
      tokenKeyFile,
      config.auth.token.verification_key_files,
      config.auth.token.signing_key_file === undefined,
    ),
    {
      issuer: config.auth.token.issuer,
      service: config.auth.token.service,
      expirationSeconds: config.auth.token.expiration_seconds,
    },
    access,
  );
  const manifests = new ManifestService(deps);
  const blobs = new BlobService(deps);
  // Remote registry endpoints (replication); their credentials are sealed with a key every instance reads.
  const registries = new RegistryEndpointService(
    db,
    new SecretBox(
      loadEncryptionKey(
        config.secrets.encryption_key_file ?? join(config.data_dir, 'secrets', 'encryption.key'),
        config.secrets.encryption_key_file === undefined,
      ),
    ),
    // Every connection to a peer or its token realm passes the outbound policy.
    { outbound: new OutboundGuard(config.outbound), tokenRealms: config.outbound.token_realms },
  );
  // Replication policies; the service registers itself as a user of registry endpoints.
  const replicationPolicies = new ReplicationPolicyService(db, registries, deps.lookups);
  let draining = false;
  const background = new BackgroundTasks((task, err) => logger.warn({ err, task }, 'background task failed'));
  const expireMs = config.uploads.expire_after_hours * 3_600_000;
  background.add({
    name: 'purge-stale-uploads',
    intervalMs: Math.min(expireMs, 10 * 60_000),
    run: () => purgeStaleUploads(deps, expireMs),
  });
  if (config.audit.retention_days > 0) {
    background.add({
      name: 'purge-audit-log',
      intervalMs: 10 * 60_000,
      run: () => audit.purgeOlderThan(config.audit.retention_days),
    });
  }
  // The durable job service (src/jobs): job types are registered by the features that own them.
  const jobs = new JobService({
    db,
    instanceName,
    maxJobWorkers: config.jobservice.max_job_workers,
    onError: (err, context) => logger.warn({ err, context }, 'job service'),
  });
  // Replication runs on the job service; it reaches this registry over loopback once it listens.
  let localUrl = '';
  const replicationExecutions = new ReplicationExecutionService(
    {
      db,
      jobs,
      policies: replicationPolicies,
      registries,
      tokens,
      projects,
      blobs,
      localUrl: () => localUrl,
      tombstoneTtlMs: config.replication.tombstone_days * 86_400_000,
      onError: (err, context) => logger.warn({ err, context }, 'replication'),
    },
    {
      deadlineMs: config.replication.retry_deadline_hours * 3_600_000,
      backoffBaseMs: config.replication.retry_backoff_seconds * 1_000,
      backoffMaxMs: config.replication.retry_backoff_max_seconds * 1_000,
    },
  );
  // Event-based replication hears of every tag change, through /v2 or the management API.
  const replicationEvent = (event: EventPayload, principal: Principal) =>
    replicationExecutions.manifestEvent(event, principal).catch((err: unknown) => {
      // The change itself succeeded; the event is kept and written again shortly.
      logger.warn(
        { err, repository: event.repository },
        'enqueueing event-based replication failed; retrying',
      );
    });
  const catalog = new CatalogApiService(db, projects, access, manifests, deps.lookups, replicationEvent);
  const app = await buildApp({
    logger,
    logRequests: config.log.requests,
    oci: {
      blobs,
      uploads: new UploadService(deps),
      manifests,
      listing: new ListingService(deps),
      metrics,
      manifestMaxBytes: config.limits.manifest_max_bytes,
      chunkMinLength: config.uploads.chunk_min_length,
    },
    auth,
    api: {
      auth,
      tokens,
      access,
      projects,
      users: new UserService(db, auth),
      audit,
      db,
      sessions: new SessionService(db, auth, {
        idleSeconds: config.login.session_idle_seconds,
        maxSeconds: config.login.session_max_seconds,
        externalUrl: config.http.external_url,
      }),
      settings,
      members: new MemberService(db, projects, access),
      robots: new RobotService(db, projects, access, auth),
      catalog,
      labels: new LabelService(db, projects, access, catalog),
      registries,
      jobs,
      replicationPolicies,
      replicationExecutions,
    },
    audit,
    pullStats,
    ociAccess: {
      auth,
      tokens,
      access,
      policy: {
        challenge: config.auth.challenge,
        realm: config.auth.realm,
        externalUrl: config.http.external_url,
      },
    },
    metrics,
    health: [
      { name: 'database', check: async () => void (await db.query('SELECT 1')) },
      ...(redisBus ? [{ name: 'redis', check: redisCheck(() => redisBus.redis) }] : []),
      { name: 'storage', check: () => storage.check() },
      { name: 'jobs', check: () => background.check() },
    ],
    requestsPerMinute: config.limits.requests_per_minute,
    rateLimitStore: redisBus?.redis
      ? { redis: redisBus.redis, nameSpace: `${config.redis?.key_prefix ?? ''}rate:` }
      : null,
    trustProxy: config.http.trust_proxy,
    instanceName,
    lifecycle: { isDraining: () => draining },
    replicationEvents: replicationEvent,
  });
  // http.idle_timeout_seconds: idle kept-alive connections close after it (above the balancer's own).
  app.server.keepAliveTimeout = config.http.idle_timeout_seconds * 1000;
  app.server.requestTimeout = 0; // large blob uploads may legitimately take long
  app.server.headersTimeout = 60_000;
  await app.listen({ host: config.http.host, port: config.http.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  localUrl = loopbackUrl(config.http.host, port);
  await replicationExecutions.syncSchedules().catch((err: unknown) => {
    // Not fatal: the next change of a policy saves its schedule again.
    logger.warn({ err }, 'syncing replication schedules failed');
  });
  await jobs.start();

  let stopped: Promise<void> | undefined;
  const shutdown = (options: { drain?: boolean } = {}) => {
    stopped ??= (async () => {
      draining = true;
      // Stops claiming at once; running jobs get the grace, then are released to other instances.
      const jobsStopped = jobs.stop(config.shutdown.grace_seconds * 1000);
      const drainMs = options.drain === false ? 0 : config.shutdown.drain_seconds * 1000;
      if (drainMs > 0) {
        logger.info({ seconds: config.shutdown.drain_seconds }, 'draining: not ready, still serving');
        await new Promise((r) => setTimeout(r, drainMs));
      }
      const graceMs = config.shutdown.grace_seconds * 1000;
      const forced = setTimeout(() => {
        logger.warn('shutdown grace period over; closing remaining connections');
        app.server.closeAllConnections();
      }, graceMs);
      forced.unref();
      await app.close();
      clearTimeout(forced);
      replicationExecutions.close();
      await background.stop();
      await audit.flush();
      await pullStats.flush();
      // Jobs still finishing may write and so publish invalidations: Redis closes after them.
      await jobsStopped;
      await redisBus?.close();
      await backends.close();
    })();
    return stopped;
  };
  return { app, url: `http://${host}:${port}`, port, instanceName, shutdown };
}

/**
 * Creates the first account if the database was never initialised (see first-account.ts). A weak
 * configured admin_password stops the start before anything is written.
 */
async function initialiseOnce(
  config: WharfConfig,
  backends: Backends,
  logger: Logger,
  hooks: StartHooks,
): Promise<void> {
  let outcome;
  try {
    outcome = await initialiseDatabase(backends.db, config.admin_password);
  } catch (err) {
    await backends.close().catch(() => undefined);
    if (err instanceof ServiceError) throw new ConfigError(`admin_password: ${err.message}`);
    throw err;
  }
  if (outcome.kind === 'created') hooks.onFirstAccount?.(outcome.account);
  else if (config.admin_password !== undefined) {
    logger.info(
      'admin_password applies only when the database is initialised and is ignored now; ' +
        'change a password through the API or with "wharf admin reset-password USER"',
    );
  }
}

/** This instance as seen from itself: an unspecified bind address is reached through loopback. */
function loopbackUrl(bindHost: string, port: number): string {
  if (bindHost === '0.0.0.0' || bindHost === '') return `http://127.0.0.1:${port}`;
  if (bindHost === '::') return `http://[::1]:${port}`;
  return `http://${bindHost.includes(':') ? `[${bindHost}]` : bindHost}:${port}`;
}
