import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDockerRegistry } from '../test/helpers/docker-registry.js';
import { freePort, waitForHttp } from '../test/helpers/ports.js';
import type { Credentials } from './client.js';

// The two registries under test. Each is a real process on 127.0.0.1 whose pid the bench reads
// memory figures from.

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export type ServerKind = 'wharf' | 'docker-registry';

export interface Server {
  kind: ServerKind;
  /** What the report calls it, e.g. "Wharf" or "docker-registry". */
  label: string;
  version: string;
  url: string;
  /** host:port, for skopeo. */
  host: string;
  pid: number;
  /** Credentials for pushes; undefined where the registry takes anonymous pushes. */
  pushCredentials: Credentials | undefined;
  stop(): Promise<void>;
}

export async function startServer(kind: ServerKind, label: string): Promise<Server> {
  const server = kind === 'wharf' ? await startWharf(label) : await startReference(label);
  try {
    assertLoopbackOnly(server.port);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

async function startReference(label: string): Promise<Server & { port: number }> {
  const handle = await startDockerRegistry();
  return {
    kind: 'docker-registry',
    label,
    version: dockerRegistryVersion(),
    url: handle.url,
    host: handle.host,
    port: handle.port,
    pid: handle.pid,
    pushCredentials: undefined,
    stop: () => handle.stop(),
  };
}

export function dockerRegistryVersion(): string {
  const out = execFileSync('docker-registry', ['--version'], { encoding: 'utf8' }).trim();
  return out.split(/\s+/).pop() ?? out;
}

export interface WharfBenchOptions {
  /** More YAML lines for the configuration (an external database, Redis, shared storage...). */
  extraConfig?: string[];
  /** Instances sharing one database must share the admin password the first one sets. */
  adminPassword?: string;
}

/** Starts `dist/cli/main.js serve` on a free loopback port with its own data directory. */
export async function startWharf(
  label: string,
  options: WharfBenchOptions = {},
): Promise<Server & { port: number }> {
  const cli = join(repoRoot, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) {
    throw new Error(
      `Wharf is not built: ${cli} does not exist (run npm run build). ` +
        'To check the harness alone, run the bench with --subject docker-registry.',
    );
  }
  const base = await mkdtemp(join(tmpdir(), 'wharf-bench-'));
  const port = await freePort();
  const configPath = join(base, 'wharf.yml');
  // Loopback only; logging as quiet as docker-registry's (errors, no access log), and no audit
  // records of pulls, which docker-registry does not keep either (changes are still audited).
  await writeFile(
    configPath,
    [
      'http:',
      '  host: 127.0.0.1',
      'auth:',
      '  anonymous_pull: true',
      'log:',
      '  level: warn',
      '  requests: false',
      'audit:',
      '  log_pulls: false',
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const password = options.adminPassword ?? randomBytes(18).toString('base64url');
  const child = spawn(
    process.execPath,
    // As `npm start` runs it: Liftoff-only WASM for the embedded database (docs/architecture.md).
    [
      '--liftoff-only',
      cli,
      'serve',
      '--port',
      String(port),
      '--data-dir',
      join(base, 'data'),
      '--config',
      configPath,
    ],
    {
      cwd: base,
      env: { ...process.env, WHARF_ADMIN_PASSWORD: password },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref());
      await Promise.race([exited, timer]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(base, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([
      waitForHttp(`${url}/v2/`, 90_000),
      exited.then(() => {
        throw new Error(`exited with code ${child.exitCode} signal ${child.signalCode}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw new Error(`Wharf did not start: ${String(err)}\n--- its output ---\n${output}`, { cause: err });
  }
  if (child.pid === undefined) throw new Error('Wharf: no pid');
  return {
    kind: 'wharf',
    label,
    version: wharfVersion(),
    url,
    host: `127.0.0.1:${port}`,
    port,
    pid: child.pid,
    pushCredentials: { username: 'admin', password },
    stop,
  };
}

function wharfVersion(): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    const commit = git(['rev-parse', '--short', 'HEAD']);
    const dirty = git(['status', '--porcelain', '--', 'src']) !== '';
    return `${pkg.version} (commit ${commit}${dirty ? ', plus uncommitted changes in src/' : ''})`;
  } catch {
    return pkg.version;
  }
}

/** Fails unless every socket listening on `port` is bound to a loopback address. */
function assertLoopbackOnly(port: number): void {
  const loopback = new Set([
    '0100007F', // 127.0.0.1
    '00000000000000000000000001000000', // ::1
    '0000000000000000FFFF00000100007F', // ::ffff:127.0.0.1
  ]);
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const bound: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local?.endsWith(`:${hex}`)) continue;
      bound.push(local.slice(0, -hex.length - 1));
    }
  }
  if (bound.length === 0) throw new Error(`nothing listens on port ${port}`);
  const other = bound.filter((address) => !loopback.has(address));
  if (other.length > 0) {
    throw new Error(`port ${port} is bound beyond loopback (${other.join(', ')}): refusing to benchmark`);
  }
}
