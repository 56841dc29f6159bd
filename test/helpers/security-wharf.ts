import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { configSchema, type WharfConfig } from '../../src/config/schema.js';
import { createLogger, startServer, type RunningServer } from '../../src/wharf.js';
import { testDatabaseUrl } from './postgres.js';

// Wharf built inside the test process (the composition root itself, listening on loopback port
// 0), so a test can drive it with `app.inject` and still open real connections when it must watch
// the socket. The database follows the vitest project, as for startTestWharf. `stop()` leaves the
// data directory, so a test can open the database and storage afterwards and inspect them.

export const SECURITY_ADMIN_PASSWORD = 'Harbor12345-inproc';

export interface SecurityWharf {
  app: FastifyInstance;
  server: RunningServer;
  config: WharfConfig;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Authorization header value of the admin account. */
  adminAuth: string;
  /** Shuts the server down, keeping its data. */
  stop(): Promise<void>;
  /** Shuts down (if still running) and removes the data. */
  close(): Promise<void>;
}

type Settings = Record<string, unknown>;

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/**
 * Starts Wharf in this process. `settings` are merged (one level deep) into the configuration,
 * e.g. `{ limits: { max_blob_size_bytes: 1000 } }`. `projects` are created (private) by the admin.
 */
export async function startSecurityWharf(
  settings: Settings = {},
  projects: string[] = ['test'],
): Promise<SecurityWharf> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-security-'));
  const databaseUrl = process.env.WHARF_TEST_DATABASE === 'postgres' ? await testDatabaseUrl() : undefined;
  const base: Settings = {
    data_dir: join(root, 'data'),
    admin_password: SECURITY_ADMIN_PASSWORD,
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent', requests: false },
    shutdown: { drain_seconds: 0, grace_seconds: 5 },
    ...(databaseUrl && { database: { url: databaseUrl } }),
  };
  for (const [key, value] of Object.entries(settings)) {
    const current = base[key];
    base[key] = isPlainObject(current) && isPlainObject(value) ? { ...current, ...value } : value;
  }
  const config = configSchema.parse(base);
  const server = await startServer(config, createLogger(config));
  const adminAuth = basicAuth('admin', SECURITY_ADMIN_PASSWORD);
  for (const name of projects) {
    const res = await server.app.inject({
      method: 'POST',
      url: '/api/v2.0/projects',
      headers: { authorization: adminAuth, 'content-type': 'application/json' },
      payload: JSON.stringify({ project_name: name, metadata: { public: 'false' } }),
    });
    if (res.statusCode !== 201) throw new Error(`creating project ${name}: ${res.statusCode} ${res.body}`);
  }
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= server.shutdown({ drain: false }));
  return {
    app: server.app,
    server,
    config,
    url: server.url,
    adminAuth,
    stop,
    async close() {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

function isPlainObject(value: unknown): value is Settings {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
