import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { seedEmbeddedDatabase } from './pglite-template.js';
import { freePort, waitForHttp } from './ports.js';
import { TEST_PASSWORD_KDF_COST } from './test-settings.js';

// Starts the real `wharf serve` (the built CLI) as a child process on loopback, the way a user
// runs it, so tests exercise the same code path: configuration, migrations, shutdown.

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface WharfHandle {
  url: string;
  host: string;
  port: number;
  dataDir: string;
  adminUser: 'admin';
  adminPassword: string;
  /** The external database, when the handle runs on one (else the embedded PGlite). */
  databaseUrl: string | undefined;
  configPath: string;
  pid(): number;
  /** How the last process ended, once it has. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
  /** SIGKILL, no cleanup: for crash tests. */
  kill(): Promise<void>;
  /** Starts the process again on the same port and data directory. */
  restart(): Promise<void>;
}

/** Settings rendered under the generated file's one `auth:` key (see the configuration schema). */
export interface AuthConfig {
  require_signin?: boolean;
  challenge?: 'bearer' | 'basic';
  realm?: string;
  /** scrypt cost (log2 N); default here TEST_PASSWORD_KDF_COST, for speed (see in-process-wharf.ts). */
  password_kdf_cost?: number;
  token?: {
    issuer?: string;
    service?: string;
    expiration_seconds?: number;
    signing_key_file?: string;
    verification_key_files?: string[];
  };
}

export interface StartOptions {
  dataDir?: string;
  anonymousPull?: boolean;
  /** More `auth:` settings; `auth:` cannot go in extraConfig, the generated file has that key. */
  authConfig?: AuthConfig;
  /** Extra YAML configuration appended to the generated file (no `auth:` key: see authConfig). */
  extraConfig?: string;
  env?: Record<string, string>;
  /** postgres:// URL; default: the embedded PGlite. */
  databaseUrl?: string;
  /** null: start without any admin password configured (Wharf then generates one). */
  adminPassword?: string | null;
  /**
   * shutdown.drain_seconds: how long SIGTERM keeps the instance serving while not ready. Default
   * 0 here, so that stopping a test server is quick; HA tests set it as a deployment would.
   */
  drainSeconds?: number;
  /** Projects to create (as admin) once the server is up; pushes need an existing project. */
  projects?: string[];
  /** Projects to create public (metadata public: "true"), besides `projects`. */
  publicProjects?: string[];
}

/** The projects test repositories live in (besides Wharf's own `library`). */
export const DEFAULT_TEST_PROJECTS = ['test', 'ops'];

export async function startWharf(options: StartOptions = {}): Promise<WharfHandle> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  const port = await freePort();
  const ownDir = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), 'wharf-test-'));
  const dataDir = options.dataDir ?? join(ownDir as string, 'data');
  const configPath = join(ownDir ?? (await mkdtemp(join(tmpdir(), 'wharf-cfg-'))), 'config.yml');
  const adminPassword =
    options.adminPassword === undefined ? 'Harbor12345-test' : (options.adminPassword ?? '');
  if (/^auth\s*:/m.test(options.extraConfig ?? '')) {
    // A second top-level `auth:` is a duplicate key, which the configuration loader refuses.
    throw new Error('startWharf: put auth settings in options.authConfig, not in extraConfig');
  }
  if (/^shutdown\s*:/m.test(options.extraConfig ?? '')) {
    throw new Error('startWharf: set options.drainSeconds instead of a shutdown: key in extraConfig');
  }
  await writeFile(
    configPath,
    [
      stringify({
        // Only when a test asks: the key is deprecated (false means auth.require_signin: true).
        auth: {
          password_kdf_cost: TEST_PASSWORD_KDF_COST,
          ...(options.anonymousPull !== undefined && { anonymous_pull: options.anonymousPull }),
          ...options.authConfig,
        },
      }).trimEnd(),
      `log:`,
      `  level: warn`,
      ...(options.databaseUrl ? [`database:`, `  url: "${options.databaseUrl}"`] : []),
      `shutdown:`,
      `  drain_seconds: ${options.drainSeconds ?? 0}`,
      options.extraConfig ?? '',
    ].join('\n'),
  );
  if (!options.databaseUrl && !/^database\s*:/m.test(options.extraConfig ?? '')) {
    await seedEmbeddedDatabase(dataDir, 'dist'); // a fresh data directory starts from a migrated copy
  }
  let child: ChildProcess | undefined;
  let output = '';
  let lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const launch = async () => {
    output = '';
    const env: NodeJS.ProcessEnv = { ...process.env, WHARF_ADMIN_PASSWORD: adminPassword, ...options.env };
    if (options.adminPassword === null) delete env.WHARF_ADMIN_PASSWORD;
    child = spawn(
      process.execPath,
      // --liftoff-only: as `npm start` runs it (see docs/architecture.md, "Memory").
      ['--liftoff-only', CLI, 'serve', '--config', configPath, '--port', String(port), '--data-dir', dataDir],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const current = child;
    current.once('exit', (code, signal) => {
      lastExit = { code, signal };
    });
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<never>((_, reject) =>
      child?.once('exit', (code) => reject(new Error(`wharf exited with ${code} during start:\n${output}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForHttp(`http://127.0.0.1:${port}/api/v2.0/ping`, 60_000), exited]);
  };
  const waitExit = async (signal: NodeJS.Signals, timeoutMs: number) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await done;
    }
  };
  await launch();
  if (adminPassword) {
    const admin = { url: `http://127.0.0.1:${port}`, adminUser: 'admin' as const, adminPassword };
    for (const name of options.projects ?? DEFAULT_TEST_PROJECTS) await createProject(admin, name);
    for (const name of options.publicProjects ?? []) await createProject(admin, name, { public: true });
  }
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    adminUser: 'admin',
    adminPassword,
    databaseUrl: options.databaseUrl,
    configPath,
    pid: () => child?.pid ?? -1,
    exitStatus: () => lastExit,
    output: () => output,
    async stop() {
      await waitExit('SIGTERM', 15_000);
      if (ownDir) await rm(ownDir, { recursive: true, force: true });
    },
    async kill() {
      await waitExit('SIGKILL', 5_000);
    },
    async restart() {
      await waitExit('SIGTERM', 15_000);
      await launch();
    },
  };
}

/**
 * Creates a project as the admin (POST /api/v2.0/projects). An existing project is fine (409), as
 * when several instances share a database: it is then left as it is.
 */
export async function createProject(
  handle: Pick<WharfHandle, 'url' | 'adminUser' | 'adminPassword'>,
  name: string,
  options: { public?: boolean } = {},
): Promise<void> {
  const res = await fetch(`${handle.url}/api/v2.0/projects`, {
    method: 'POST',
    headers: { authorization: adminAuth(handle), 'content-type': 'application/json' },
    body: JSON.stringify({ project_name: name, metadata: { public: String(options.public ?? false) } }),
  });
  if (res.status !== 201 && res.status !== 409) {
    throw new Error(`creating project ${name} failed: ${res.status} ${await res.text()}`);
  }
}

/** The Authorization header value for the admin account of a handle. */
export function adminAuth(handle: Pick<WharfHandle, 'adminUser' | 'adminPassword'>): string {
  return `Basic ${Buffer.from(`${handle.adminUser}:${handle.adminPassword}`).toString('base64')}`;
}
