import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';
import { hasExited, waitForExit } from './processes.js';

// A real, throwaway PostgreSQL server for tests: Debian's binaries, a temporary data directory,
// loopback only, no durability (fsync off). PostgreSQL refuses to run as root, so as root the
// binaries run as the `postgres` OS user; otherwise as the current user.

export interface PostgresServer {
  /** Admin URL: postgres://postgres@127.0.0.1:PORT/postgres (trust auth, loopback only). */
  url: string;
  port: number;
  /** Creates a fresh empty database (default name wharf_test_<random>) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Fast shutdown, then removes the data directory. Safe to call more than once. */
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** WHARF_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin that has initdb (Debian's layout). */
async function findBinDir(): Promise<string> {
  const fromEnv = process.env.WHARF_PG_BINDIR;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? await readdir(root) : [];
  const found = versions
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  if (found[0] === undefined) {
    throw new Error(
      `no PostgreSQL server binaries under ${root}: install the Debian package postgresql ` +
        '(scripts/test-all.sh does so when run as root) or set WHARF_PG_BINDIR',
    );
  }
  return join(root, found[0], 'bin');
}

interface RunAs {
  uid: number;
  gid: number;
}

/** As root: the postgres user's ids. As anyone else: undefined (run as ourselves). */
async function postgresUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'running as root but there is no `postgres` OS user; install the Debian package postgresql',
    );
  }
}

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** CREATE DATABASE on the server behind adminUrl; returns the new database's URL. */
export async function createDatabaseAt(adminUrl: string, name?: string): Promise<string> {
  const dbName = name ?? `wharf_test_${randomBytes(6).toString('hex')}`;
  // Identifiers cannot be bound as parameters, so the name is validated instead.
  if (!DATABASE_NAME.test(dbName)) throw new Error(`invalid database name: ${dbName}`);
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${dbName}"`);
  } finally {
    await client.end();
  }
  return databaseUrl(adminUrl, dbName);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a connection to url opens and answers SELECT 1 (within about a second). */
export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  // A refused connection also emits 'error'; without a listener it would be thrown as uncaught.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A detached shell that holds the read end of a pipe from this process. When this process dies
 * in any way (even SIGKILL, when no 'exit' handler runs) the pipe closes, and the shell stops the
 * server and removes its directory, so no test run leaves a PostgreSQL behind.
 */
function startSentinel(pid: number, dir: string): ChildProcess {
  const script = [
    'while read -r _; do :; done',
    'kill -QUIT "$1" 2>/dev/null',
    'i=0',
    'while kill -0 "$1" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done',
    'kill -KILL "$1" 2>/dev/null',
    'rm -rf "$2"',
  ].join('\n');
  const sentinel = spawn('/bin/sh', ['-c', script, 'wharf-pg-sentinel', String(pid), dir], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  sentinel.unref();
  // The pipe must not keep this process's event loop alive either.
  (sentinel.stdin as unknown as Socket | null)?.unref();
  return sentinel;
}

interface Spawned {
  child: ChildProcess;
  port: number;
  logPath: string;
}

async function launch(binDir: string, base: string, dataDir: string, runAs?: RunAs): Promise<Spawned> {
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: base,
    // No durability needed: the data directory is thrown away after the run.
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    // Parallel test files each open a pool.
    max_connections: '300',
  };
  const args = ['-D', dataDir, '-p', String(port)];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  // The server log goes to a file, not a pipe, so nothing in this process has to drain it.
  const logPath = join(base, 'postgres.log');
  const log = await open(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(join(binDir, 'postgres'), args, { cwd: base, stdio: ['ignore', log.fd, log.fd], ...runAs });
  } finally {
    await log.close();
  }
  // Stopping is explicit (stop(), the exit hook, the sentinel); the child must not hold the loop.
  child.unref();
  return { child, port, logPath };
}

/** Starts a fresh server (initdb + postgres) and waits until it accepts connections. */
export async function startPostgres(): Promise<PostgresServer> {
  const binDir = await findBinDir();
  const runAs = await postgresUser();
  // As root, /tmp rather than $TMPDIR: the postgres user must be able to reach the directory.
  const base = await mkdtemp(join(runAs ? '/tmp' : tmpdir(), 'wharf-pg-'));
  const dataDir = join(base, 'data');
  try {
    if (runAs) await chown(base, runAs.uid, runAs.gid);
    try {
      await execFileAsync(
        join(binDir, 'initdb'),
        ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
        // cwd: initdb fails when it cannot read the caller's directory as the postgres user.
        { cwd: base, timeout: START_TIMEOUT_MS, ...runAs },
      );
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string };
      throw new Error(`initdb failed: ${String(err)}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
    }

    // A port from freePort() can be taken before postgres binds it; try a few.
    let lastLog = '';
    for (let attempt = 1; attempt <= 3; attempt++) {
      const spawned = await launch(binDir, base, dataDir, runAs);
      const { child, port, logPath } = spawned;
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const deadline = Date.now() + START_TIMEOUT_MS;
      let ready = false;
      while (!hasExited(child) && Date.now() < deadline) {
        if (await canConnect(url)) {
          ready = true;
          break;
        }
        await sleep(100);
      }
      if (ready) return running(spawned, url, base);
      const why = hasExited(child)
        ? `exited (${child.exitCode ?? child.signalCode}) before accepting connections`
        : `did not accept connections within ${START_TIMEOUT_MS} ms`;
      if (!hasExited(child)) {
        child.kill('SIGKILL');
        await waitForExit(child, STOP_TIMEOUT_MS);
      }
      lastLog = await readFile(logPath, 'utf8').catch(() => '');
      if (!/Address already in use/.test(lastLog)) {
        throw new Error(`PostgreSQL ${why}; server log:\n${lastLog}`);
      }
    }
    throw new Error(`PostgreSQL could not bind a free port in 3 attempts; server log:\n${lastLog}`);
  } catch (err) {
    await rm(base, { recursive: true, force: true });
    throw err;
  }
}

function running({ child, port }: Spawned, url: string, base: string): PostgresServer {
  const pid = child.pid;
  if (pid === undefined) throw new Error('postgres has no pid');
  const sentinel = startSentinel(pid, base);
  // Covers a normal process exit without teardown (e.g. a test file that forgot stop()).
  const onExit = () => {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off('exit', onExit);
      // The sentinel would otherwise race us to the same pid and directory.
      sentinel.kill('SIGKILL');
      sentinel.stdin?.destroy();
      if (!hasExited(child)) {
        child.kill('SIGINT'); // fast shutdown: disconnects clients instead of waiting for them
        if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
          child.kill('SIGKILL');
          await waitForExit(child, STOP_TIMEOUT_MS);
        }
      }
      await rm(base, { recursive: true, force: true });
    })());

  return { url, port, createDatabase: (name) => createDatabaseAt(url, name), stop };
}

let privateServer: Promise<PostgresServer> | undefined;

/**
 * URL of a fresh empty database (wharf_test_<random>) for one test. Uses the server of the
 * integration-postgres global setup (WHARF_TEST_POSTGRES_URL, which vitest's workers inherit);
 * without it (e.g. a test file run on its own) it starts a private server for this process,
 * stopped when the process exits.
 */
export async function testDatabaseUrl(): Promise<string> {
  const adminUrl = process.env.WHARF_TEST_POSTGRES_URL;
  if (adminUrl) return createDatabaseAt(adminUrl);
  privateServer ??= startPostgres();
  return (await privateServer).createDatabase();
}
