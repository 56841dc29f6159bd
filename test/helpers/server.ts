import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitForHttp } from './ports.js';

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

export interface StartOptions {
  dataDir?: string;
  anonymousPull?: boolean;
  /** Extra YAML configuration appended to the generated file. */
  extraConfig?: string;
  env?: Record<string, string>;
  /** postgres:// URL; default: the embedded PGlite. */
  databaseUrl?: string;
  /** null: start without any admin password configured (Wharf then generates one). */
  adminPassword?: string | null;
}

export async function startWharf(options: StartOptions = {}): Promise<WharfHandle> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  const port = await freePort();
  const ownDir = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), 'wharf-test-'));
  const dataDir = options.dataDir ?? join(ownDir as string, 'data');
  const configPath = join(ownDir ?? (await mkdtemp(join(tmpdir(), 'wharf-cfg-'))), 'config.yml');
  const adminPassword =
    options.adminPassword === undefined ? 'Harbor12345-test' : (options.adminPassword ?? '');
  await writeFile(
    configPath,
    [
      `auth:`,
      `  anonymous_pull: ${options.anonymousPull ?? false}`,
      `log:`,
      `  level: warn`,
      ...(options.databaseUrl ? [`database:`, `  url: "${options.databaseUrl}"`] : []),
      options.extraConfig ?? '',
    ].join('\n'),
  );
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

/** The Authorization header value for the admin account of a handle. */
export function adminAuth(handle: Pick<WharfHandle, 'adminUser' | 'adminPassword'>): string {
  return `Basic ${Buffer.from(`${handle.adminUser}:${handle.adminPassword}`).toString('base64')}`;
}
