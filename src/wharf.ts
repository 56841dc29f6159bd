import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { WharfConfig } from './config/schema.js';
import { ConfigError } from './config/load.js';
import { buildApp } from './http/app.js';
import type { Database } from './metadata/database.js';
import { securePrivatePaths } from './private-paths.js';
import { initialiseDatabase, type FirstAccount } from './services/first-account.js';
import { configurePasswordCost } from './services/passwords.js';
import { ServiceError } from './services/service-error.js';
import { appDeps } from './wiring/app-deps.js';
import { applyConfiguredSchedules } from './wiring/jobs.js';
import { adoptBackends, openBackends, type Backends, type OpenedBackends } from './wiring/backends.js';
import { listen } from './wiring/listen.js';
import { buildPlatform } from './wiring/platform.js';
import { buildServices, type Services } from './wiring/services.js';
import { stopInstance, type Draining } from './wiring/shutdown.js';

// The composition root: sequences the start (backends -> migrations -> services -> app -> listen
// -> background work) and the stop in the reverse order. The parts are built in src/wiring/.

/** Another process holds the data directory (the CLI reports it as a usage error, not a crash). */
export { DataDirLockedError } from './metadata/data-dir-lock.js';
export { openBackends, usesExternalDatabase, type Backends, type OpenedBackends } from './wiring/backends.js';
export { openGcEngine } from './wiring/gc.js';

export interface RunningServer {
  app: FastifyInstance;
  /** http://host:port actually bound (port 0 in the configuration picks a free one). */
  url: string;
  port: number;
  /** The name in every response's X-Wharf-Instance header. */
  instanceName: string;
  /** The metadata database, for tools and tests in the same process (the outbox, say). */
  db: Database;
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

export interface StartOptions {
  /**
   * Called as soon as the first account has been committed (the database's initialisation), before
   * anything else that could fail: a generated password printed here is never lost to a later error.
   */
  onFirstAccount?: (account: FirstAccount) => void;
  /**
   * The database and storage to run on, opened by the caller (who keeps them: shutdown leaves them
   * open, so a later start runs on the same data). Without them they are opened from `config`.
   */
  backends?: OpenedBackends;
}

export async function startServer(
  config: WharfConfig,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningServer> {
  configurePasswordCost(config.auth.password_kdf_cost); // before the first account is hashed
  await securePrivatePaths(config, logger);
  // Opened (or adopted) and migrated.
  const backends = options.backends ? await adoptBackends(options.backends) : await openBackends(config);
  // First, before any connection that would keep a failed start alive (Redis) is opened.
  await initialiseOnce(config, backends, logger, options);
  const services = await buildServices(buildPlatform(config, logger, backends));
  const state: Draining = { draining: false };
  const app = await buildApp(appDeps(services, { isDraining: () => state.draining }));
  const listening = await listen(app, config);
  services.platform.late.localUrl = listening.localUrl;
  await startBackgroundWork(services);
  let stopped: Promise<void> | undefined;
  const shutdown = (options: { drain?: boolean } = {}) =>
    (stopped ??= stopInstance(services, app, state, options));
  const { instanceName, db } = services.platform;
  return { app, url: listening.url, port: listening.port, instanceName, db, shutdown };
}

/** Once the instance listens (replication reaches it over loopback): schedules, jobs, the outbox. */
async function startBackgroundWork({
  platform,
  replication,
  jobs,
  audit,
  dispatcher,
}: Services): Promise<void> {
  await replication.executions.syncSchedules().catch((err: unknown) => {
    // Not fatal: the next change of a policy saves its schedule again.
    platform.logger.warn({ err }, 'syncing replication schedules failed');
  });
  await applyConfiguredSchedules(platform, audit.audit, jobs).catch((err: unknown) => {
    // Not fatal: the schedule saved before stays, and the next start applies the configuration.
    platform.logger.warn({ err }, 'applying the configured maintenance schedules failed');
  });
  await jobs.jobs.start();
  // After migrations and the job service (consumers enqueue jobs); off: another instance dispatches.
  if (platform.config.events.dispatch) dispatcher.start();
}

/**
 * Creates the first account if the database was never initialised (see first-account.ts). A weak
 * configured admin_password stops the start before anything is written.
 */
async function initialiseOnce(
  config: WharfConfig,
  backends: Backends,
  logger: Logger,
  hooks: Pick<StartOptions, 'onFirstAccount'>,
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
