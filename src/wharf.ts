import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { createLocalLookupCache, disabledLookupCache } from './cluster/lookup-cache.js';
import { createManifestCache } from './cluster/manifest-cache.js';
import type { WharfConfig } from './config/schema.js';
import { buildApp } from './http/app.js';
import { createMetrics } from './http/metrics.js';
import type { Database } from './metadata/database.js';
import { migrate } from './metadata/migrate.js';
import { openPgliteDatabase } from './metadata/pglite-database.js';
import { openPostgresDatabase } from './metadata/postgres-database.js';
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
import { AuthService } from './services/auth-service.js';
import { loadTokenKeys } from './services/token-keys.js';
import { TokenService } from './services/token-service.js';
import { insertProject } from './metadata/projects-table.js';
import { findUserByName } from './metadata/users-table.js';
import { BlobService } from './services/registry/blob-service.js';
import type { RegistryDeps } from './services/registry/deps.js';
import { ListingService } from './services/registry/listing-service.js';
import { ManifestService } from './services/registry/manifest-service.js';
import { purgeStaleUploads } from './services/registry/upload-janitor.js';
import { UploadService } from './services/registry/upload-service.js';
import type { StorageDriver } from './storage/driver.js';
import { FilesystemDriver } from './storage/filesystem-driver.js';

// The composition root: builds every component from the configuration and owns their lifecycle.

export interface Backends {
  db: Database;
  storage: StorageDriver;
}

export async function openBackends(config: WharfConfig): Promise<Backends> {
  const storage = new FilesystemDriver(config.storage.filesystem?.root ?? join(config.data_dir, 'storage'));
  const db = config.database.url
    ? await openPostgresDatabase({
        connectionString: config.database.url,
        poolSize: config.database.pool_size,
      })
    : await openPgliteDatabase(join(config.data_dir, 'pg'));
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return { db, storage };
}

export interface RunningServer {
  app: FastifyInstance;
  /** http://host:port actually bound (port 0 in the configuration picks a free one). */
  url: string;
  port: number;
  /** The generated admin password on the very first start, else null. Print it once. */
  generatedAdminPassword: string | null;
  /** Stops accepting, lets in-flight requests finish (bounded), closes the database. */
  shutdown(): Promise<void>;
}

export function createLogger(config: WharfConfig): Logger {
  return pino({
    level: config.log.level,
    // Credentials never reach the log, whatever logs a request or an error.
    redact: ['req.headers.authorization', 'headers.authorization', '*.password', 'password'],
  });
}

export async function startServer(config: WharfConfig, logger: Logger): Promise<RunningServer> {
  const { db, storage } = await openBackends(config);
  const deps: RegistryDeps = {
    db,
    storage,
    manifestCache: createManifestCache(64 * 1024 * 1024),
    // Exact only while this process sees every write: true for the embedded database, which
    // admits one process. Other instances could write to an external one.
    lookups: config.database.url ? disabledLookupCache : createLocalLookupCache(100_000),
    limits: { manifestMaxBytes: config.limits.manifest_max_bytes },
  };
  const auth = new AuthService(db);
  const admin = await auth.ensureAdmin(config.admin_password);
  const generatedAdminPassword = admin.generatedPassword;
  if (admin.created) {
    // As in Harbor: a public project "library", owned by the administrator, exists from the start.
    const adminRow = await findUserByName(db, 'admin');
    await insertProject(db, 'library', adminRow?.id ?? null, { public: 'true' });
  }
  const access = new AccessService(db, deps.lookups);
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
  const metrics = createMetrics(() => countUploadSessions(db));
  let draining = false;
  const app = await buildApp({
    logger,
    logRequests: config.log.requests,
    oci: {
      blobs: new BlobService(deps),
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
      sessions: new SessionService(db, auth, 30 * 60),
      settings,
      members: new MemberService(db, projects, access),
      robots: new RobotService(db, projects, access, auth),
      catalog: new CatalogApiService(db, projects, access, manifests, deps.lookups),
    },
    audit,
    pullStats,
    ociAccess: {
      auth,
      tokens,
      access,
      policy: {
        anonymousPull: config.auth.anonymous_pull,
        challenge: config.auth.challenge,
        realm: config.auth.realm,
        externalUrl: config.http.external_url,
      },
    },
    metrics,
    health: [
      { name: 'database', check: async () => void (await db.query('SELECT 1')) },
      { name: 'storage', check: () => storage.check() },
    ],
    requestsPerMinute: config.limits.requests_per_minute,
    trustProxy: config.http.trust_proxy,
    isDraining: () => draining,
  });
  app.server.keepAliveTimeout = 65_000;
  app.server.requestTimeout = 0; // large blob uploads may legitimately take long
  app.server.headersTimeout = 60_000;
  await app.listen({ host: config.http.host, port: config.http.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;

  const expireMs = config.uploads.expire_after_hours * 3_600_000;
  const janitor = setInterval(
    () => {
      purgeStaleUploads(deps, expireMs).catch((err: unknown) =>
        logger.warn({ err }, 'purging stale uploads failed'),
      );
      // Idempotent, so every instance may run it.
      if (config.audit.retention_days > 0) {
        audit
          .purgeOlderThan(config.audit.retention_days)
          .catch((err: unknown) => logger.warn({ err }, 'purging old audit records failed'));
      }
    },
    Math.min(expireMs, 10 * 60_000),
  );
  janitor.unref();

  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= (async () => {
      draining = true;
      clearInterval(janitor);
      const graceMs = config.shutdown.grace_seconds * 1000;
      const forced = setTimeout(() => {
        logger.warn('shutdown grace period over; closing remaining connections');
        app.server.closeAllConnections();
      }, graceMs);
      forced.unref();
      await app.close();
      clearTimeout(forced);
      await audit.flush();
      await pullStats.flush();
      await db.close();
    })();
    return closing;
  };
  return { app, url: `http://${host}:${port}`, port, generatedAdminPassword, shutdown };
}
