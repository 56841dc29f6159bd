import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { configSchema, type WharfConfig } from '../../src/config/schema.js';
import { openPgliteDatabase } from '../../src/metadata/pglite-database.js';
import { MemoryDriver } from '../../src/storage/memory-driver.js';
import {
  createLogger,
  openBackends,
  startServer,
  usesExternalDatabase,
  type Backends,
  type OpenedBackends,
  type RunningServer,
} from '../../src/wharf.js';
import { injectFetch, type Fetcher } from './inject-fetch.js';
import { embeddedDatabaseSnapshot, seedEmbeddedDatabase } from './pglite-template.js';
import { freePort } from './ports.js';
import { testDatabaseUrl } from './postgres.js';
import { TEST_PASSWORD_KDF_COST } from './test-settings.js';

// Wharf built inside the test process from the sources (the composition root itself, no build),
// listening on loopback port 0: tests drive it with `app.inject` (choosing each request's client
// address with `remoteAddress`) and peers or raw sockets still reach it over HTTP. The database
// follows the vitest project unless a test names one (two instances on one database). By default
// the embedded database is a PGlite in memory, loaded from a migrated template, and blobs live in
// the memory driver: the harness opens both and hands them to startServer, keeps them across
// `restart()` (like a process restarted on the same data) and closes them in `close()`. A test
// that inspects the files asks for `storage: 'disk'` (data_dir/pg and data_dir/storage, as the
// CLI). `stop()` keeps the data so a test can inspect the database and storage afterwards.

export const IN_PROCESS_ADMIN_PASSWORD = 'Harbor12345-inproc';

export interface InProcessReply {
  status: number;
  /** The parsed JSON body (the text when it is not JSON), or undefined for an empty one. */
  body: unknown;
}

export interface InProcessWharf {
  app: FastifyInstance;
  server: RunningServer;
  config: WharfConfig;
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  port: number;
  instanceName: string;
  adminUser: 'admin';
  adminPassword: string;
  /** Authorization header value of the admin account. */
  adminAuth: string;
  /** The external database it runs on, if any (else the embedded PGlite). */
  databaseUrl: string | undefined;
  /** The configuration's data_dir: secrets; with `storage: 'disk'`, the embedded database and blobs. */
  dataDir: string;
  /** A fetch answered in-process by `inject` (see inject-fetch.ts): drop-in for the global one. */
  fetch: Fetcher;
  /** Sends one request through `inject` (JSON body when given) and parses the JSON answer. */
  call(
    method: string,
    url: string,
    authorization: string | undefined,
    body?: unknown,
  ): Promise<InProcessReply>;
  /**
   * The database and storage this instance runs on, for a test that reads them directly (after
   * `stop()`, while nothing writes): those the harness holds, or opened from the configuration
   * (`storage: 'disk'`). Close the result when done; held backends stay open for a restart.
   */
  openBackends(): Promise<Backends>;
  /** Shuts the server down, keeping its data. */
  stop(): Promise<void>;
  /** Stops (if still running) and starts again on the same port, configuration and data. */
  restart(): Promise<void>;
  /** Shuts down (if still running) and removes the data. */
  close(): Promise<void>;
}

type Settings = Record<string, unknown>;

export interface InProcessOptions {
  /** Private projects the admin creates before the handle is returned. */
  projects?: string[];
  /** Projects created public (metadata public: "true"), besides `projects`. */
  publicProjects?: string[];
  /** An external database to share with another instance. */
  databaseUrl?: string;
  /**
   * 'memory' (default): an embedded database in memory and the memory storage driver. 'disk':
   * Wharf opens its backends from the configuration, the embedded database under data_dir/pg and
   * blobs under data_dir/storage, for a test that reads those files (modes, fsck, a raw scan).
   * Settings that name a storage (s3, a filesystem root) are honoured as with 'disk'.
   */
  storage?: 'memory' | 'disk';
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Starts Wharf in this process; `settings` are merged one level deep into the configuration. */
export async function startInProcessWharf(
  settings: Settings = {},
  options: InProcessOptions = {},
): Promise<InProcessWharf> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-inproc-'));
  const databaseUrl =
    options.databaseUrl ??
    (process.env.WHARF_TEST_DATABASE === 'postgres' ? await testDatabaseUrl() : undefined);
  const base = await mergedSettings(join(root, 'data'), databaseUrl, settings);
  let config = configSchema.parse(base);
  const held = await holdBackends(config, options.storage ?? 'memory');
  const start = () => startServer(config, createLogger(config), { ...(held && { backends: held.backends }) });
  let server = await start().catch(async (err: unknown) => {
    await held?.close();
    throw err;
  });
  const adminAuth = basicAuth('admin', IN_PROCESS_ADMIN_PASSWORD);
  const call: InProcessWharf['call'] = async (method, url, authorization, body) => {
    const res = await server.app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(authorization && { authorization }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
    return { status: res.statusCode, body: parseBody(res.body) };
  };
  await createProjects(call, adminAuth, options);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= server.shutdown({ drain: false }));
  // Requests go to the app of the moment, so a handle's fetch outlives a restart.
  const fetchNow: Fetcher = (input, init) => injectFetch(server.app)(input, init);
  return {
    get app() {
      return server.app;
    },
    get server() {
      return server;
    },
    get config() {
      return config;
    },
    url: server.url,
    host: new URL(server.url).host,
    port: server.port,
    get instanceName() {
      return server.instanceName;
    },
    adminUser: 'admin' as const,
    adminPassword: IN_PROCESS_ADMIN_PASSWORD,
    adminAuth,
    databaseUrl,
    dataDir: config.data_dir,
    fetch: fetchNow,
    call,
    async openBackends() {
      return held ? { ...held.backends, close: async () => undefined } : openBackends(config);
    },
    stop,
    async restart() {
      await stop();
      // The same port, so URLs the test holds (token realms, peers' endpoints) stay valid.
      config = configSchema.parse({ ...base, http: { ...(base.http as Settings), port: server.port } });
      server = await start();
      stopped = undefined;
    },
    async close() {
      try {
        await stop();
      } finally {
        await held?.close();
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}

interface HeldBackends {
  backends: OpenedBackends;
  close(): Promise<void>;
}

/**
 * The backends the harness opens and keeps for the handle's life ('memory'), or undefined when
 * Wharf is to open its own from the configuration ('disk': the embedded database is first seeded
 * from the migrated template on disk).
 */
async function holdBackends(
  config: WharfConfig,
  storage: 'memory' | 'disk',
): Promise<HeldBackends | undefined> {
  const external = usesExternalDatabase(config);
  const namesStorage = config.storage.s3 !== undefined || config.storage.filesystem !== undefined;
  if (storage === 'disk' || namesStorage) {
    if (!external) await seedEmbeddedDatabase(config.data_dir, 'src');
    return undefined;
  }
  if (external) {
    // Opened (and migrated) as the configuration says; its filesystem driver is never used.
    const opened = await openBackends(config);
    return { backends: { db: opened.db, storage: new MemoryDriver() }, close: () => opened.close() };
  }
  const db = await openPgliteDatabase(undefined, { initialData: await embeddedDatabaseSnapshot('src') });
  return { backends: { db, storage: new MemoryDriver() }, close: () => db.close() };
}

/** The test defaults, with `settings` merged one level deep over them. */
async function mergedSettings(
  dataDir: string,
  databaseUrl: string | undefined,
  settings: Settings,
): Promise<Settings> {
  const base: Settings = {
    data_dir: dataDir,
    admin_password: IN_PROCESS_ADMIN_PASSWORD,
    // A chosen port, not 0: the default instance name is host:port, as for a spawned server.
    http: { host: '127.0.0.1', port: await freePort() },
    log: { level: 'silent', requests: false },
    auth: { password_kdf_cost: TEST_PASSWORD_KDF_COST },
    shutdown: { drain_seconds: 0, grace_seconds: 5 },
    ...(databaseUrl && { database: { url: databaseUrl } }),
  };
  for (const [key, value] of Object.entries(settings)) {
    const current = base[key];
    base[key] = isPlainObject(current) && isPlainObject(value) ? { ...current, ...value } : value;
  }
  return base;
}

async function createProjects(
  call: InProcessWharf['call'],
  adminAuth: string,
  options: InProcessOptions,
): Promise<void> {
  const toCreate = [
    ...(options.projects ?? []).map((name) => ({ name, visibility: 'false' })),
    ...(options.publicProjects ?? []).map((name) => ({ name, visibility: 'true' })),
  ];
  for (const { name, visibility } of toCreate) {
    const res = await call('POST', '/api/v2.0/projects', adminAuth, {
      project_name: name,
      metadata: { public: visibility },
    });
    // 409: another instance on the same database made it already; it is left as it is.
    if (res.status !== 201 && res.status !== 409)
      throw new Error(`creating project ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

function isPlainObject(value: unknown): value is Settings {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
