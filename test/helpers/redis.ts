import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { hasExited, killOnExit, waitForExit } from './processes.js';

// Real Redis for the HA tests: Debian's redis-server and redis-sentinel, in the foreground, on
// loopback, without persistence, each in a directory of its own. A plain server can be stopped
// and started again on the same port (an outage); a Sentinel set (one master, one replica, three
// sentinels with quorum 2) can be failed over. Every process is killed when this process exits,
// even by SIGKILL (a watchdog shell holding a pipe from us), so no run leaves a Redis behind.

const REDIS_SERVER = process.env.WHARF_TEST_REDIS_SERVER ?? '/usr/bin/redis-server';
const REDIS_SENTINEL = process.env.WHARF_TEST_REDIS_SENTINEL ?? '/usr/bin/redis-sentinel';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// One-shot commands

/**
 * Sends one command to 127.0.0.1:port on a fresh connection and returns the reply. Never waits
 * long: one connection attempt, no offline queue, a command timeout.
 */
export async function redisCommand(
  port: number,
  command: string,
  ...args: Array<string | number>
): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 1_000,
    commandTimeout: 2_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command, ...args.map(String));
  } finally {
    client.disconnect();
  }
}

async function answersPing(port: number): Promise<boolean> {
  try {
    return (await redisCommand(port, 'PING')) === 'PONG';
  } catch {
    return false;
  }
}

/** The `field:value` lines of INFO SECTION. */
export async function redisInfo(port: number, section: string): Promise<Record<string, string>> {
  const text = String(await redisCommand(port, 'INFO', section));
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * A detached shell holding the read end of a pipe from this process: when this process dies in
 * any way the pipe closes and the shell SIGKILLs `pid`. Killed itself when the process stops.
 */
function startWatchdog(pid: number): ChildProcess {
  const script = 'while read -r _; do :; done; kill -KILL "$1" 2>/dev/null';
  const watchdog = spawn('/bin/sh', ['-c', script, 'wharf-redis-watchdog', String(pid)], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.unref();
  (watchdog.stdin as unknown as Socket | null)?.unref();
  return watchdog;
}

interface Spawned {
  child: ChildProcess;
  watchdog: ChildProcess;
}

async function spawnLogged(command: string, args: string[], dir: string, logName: string): Promise<Spawned> {
  const log = openSync(join(dir, logName), 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd: dir, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  child.unref();
  killOnExit(child);
  if (child.pid === undefined) throw new Error(`${command} did not start`);
  return { child, watchdog: startWatchdog(child.pid) };
}

async function terminate(spawned: Spawned, signal: NodeJS.Signals): Promise<void> {
  const { child, watchdog } = spawned;
  if (!hasExited(child)) {
    child.kill(signal);
    if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
      child.kill('SIGKILL');
      await waitForExit(child, STOP_TIMEOUT_MS);
    }
  }
  watchdog.kill('SIGKILL');
  watchdog.stdin?.destroy();
}

async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  log?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  const tail = log ? `\n${(await readFile(log, 'utf8').catch(() => '')).slice(-3_000)}` : '';
  throw new Error(`${what} not reached within ${timeoutMs} ms${tail}`);
}

// ---------------------------------------------------------------------------------------------
// A redis-server

export interface RedisServer {
  host: '127.0.0.1';
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  dir: string;
  /** The running process's pid, or -1 while stopped. */
  pid(): number;
  running(): boolean;
  /** SIGTERM (no persistence: exits at once); the port is free afterwards. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (after stop or kill). */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. Safe to call more than once. */
  dispose(): Promise<void>;
}

export interface RedisServerOptions {
  /** Start as a replica of this master. */
  replicaOf?: { host: string; port: number };
  /** More `--name value` settings. */
  settings?: Record<string, string>;
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-redis-'));
  const port = await freePort();
  const logPath = join(dir, 'redis.log');
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--logfile',
    '',
  ];
  if (options.replicaOf) args.push('--replicaof', options.replicaOf.host, String(options.replicaOf.port));
  for (const [name, value] of Object.entries(options.settings ?? {})) args.push(`--${name}`, value);

  let current: Spawned | undefined;
  const start = async () => {
    if (current && !hasExited(current.child)) return;
    const spawned = await spawnLogged(REDIS_SERVER, args, dir, 'redis.log');
    current = spawned;
    await waitUntil(
      `redis-server on port ${port} answering PING`,
      async () => {
        if (hasExited(spawned.child))
          throw new Error(`redis-server exited: ${await readFile(logPath, 'utf8')}`);
        return answersPing(port);
      },
      START_TIMEOUT_MS,
      logPath,
    );
  };
  let disposed: Promise<void> | undefined;
  const handle: RedisServer = {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    pid: () => (current && !hasExited(current.child) ? (current.child.pid ?? -1) : -1),
    running: () => current !== undefined && !hasExited(current.child),
    async stop() {
      if (current) await terminate(current, 'SIGTERM');
    },
    async kill() {
      if (current) await terminate(current, 'SIGKILL');
    },
    start,
    dispose() {
      disposed ??= (async () => {
        if (current) await terminate(current, 'SIGKILL');
        await rm(dir, { recursive: true, force: true });
      })();
      return disposed;
    },
  };
  try {
    await start();
  } catch (err) {
    await handle.dispose();
    throw err;
  }
  return handle;
}

// ---------------------------------------------------------------------------------------------
// Sentinel: one master, one replica, three sentinels

export interface SentinelProcess {
  port: number;
  pid(): number;
}

export interface SentinelSet {
  /** The master set's name, as Wharf's redis.sentinel.master_name. */
  masterName: string;
  /** host:port of every sentinel, as Wharf's redis.sentinel.addresses. */
  addresses: string[];
  sentinels: SentinelProcess[];
  /** The two data servers (initially servers[0] is the master). */
  servers: RedisServer[];
  /** The server the sentinels currently name as master (asks sentinel 1). */
  master(): Promise<RedisServer>;
  /**
   * Fails the master over and waits until every sentinel names the other server as master and that
   * server says it is one. `kill`: SIGKILL the master (a crash; the sentinels must agree it is
   * down); `command`: SENTINEL FAILOVER (a planned switch). Returns the old and the new master.
   */
  failover(how?: 'kill' | 'command'): Promise<{ from: RedisServer; to: RedisServer }>;
  /**
   * Starts a server that was killed again and waits until the sentinels made it a replica of the
   * current master and it is in sync (so that a later failover has a replica to promote).
   */
  rejoin(server: RedisServer): Promise<void>;
  dispose(): Promise<void>;
}

export interface SentinelOptions {
  masterName?: string;
  /** Default 1000: how long a master may be silent before a sentinel thinks it is down. */
  downAfterMs?: number;
  /** Default 3000. */
  failoverTimeoutMs?: number;
}

/** SENTINEL get-master-addr-by-name: the master's port as a sentinel sees it. */
async function masterPortSeenBy(sentinelPort: number, masterName: string): Promise<number | undefined> {
  try {
    const reply = await redisCommand(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', masterName);
    if (!Array.isArray(reply) || reply.length !== 2) return undefined;
    return Number(reply[1]);
  } catch {
    return undefined;
  }
}

/** SENTINEL MASTER NAME as a record of its flat field/value list. */
async function masterStateSeenBy(sentinelPort: number, masterName: string): Promise<Record<string, string>> {
  const reply = await redisCommand(sentinelPort, 'SENTINEL', 'MASTER', masterName);
  const fields: Record<string, string> = {};
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = String(reply[i + 1]);
  }
  return fields;
}

export async function startSentinelSet(options: SentinelOptions = {}): Promise<SentinelSet> {
  const masterName = options.masterName ?? 'wharf-master';
  const downAfterMs = options.downAfterMs ?? 1_000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 3_000;
  const servers: RedisServer[] = [];
  const sentinelProcesses: Array<{ spawned: Spawned; port: number; dir: string }> = [];
  const dispose = async () => {
    await Promise.all(
      sentinelProcesses.map(async (s) => {
        await terminate(s.spawned, 'SIGKILL');
        await rm(s.dir, { recursive: true, force: true });
      }),
    );
    await Promise.all(servers.map((s) => s.dispose()));
  };
  try {
    const first = await startRedis();
    servers.push(first);
    const second = await startRedis({ replicaOf: { host: '127.0.0.1', port: first.port } });
    servers.push(second);
    await waitUntil(
      'replica in sync with the master',
      async () => {
        try {
          const info = await redisInfo(second.port, 'replication');
          return info.master_link_status === 'up';
        } catch {
          return false;
        }
      },
      START_TIMEOUT_MS,
    );

    for (let i = 0; i < 3; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'wharf-sentinel-'));
      const port = await freePort();
      const configPath = join(dir, 'sentinel.conf');
      // Sentinel rewrites its configuration file (known sentinels, replicas, epochs): it must be
      // a file of its own that it may write.
      await writeFile(
        configPath,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${dir}`,
          'logfile ""',
          `sentinel monitor ${masterName} 127.0.0.1 ${first.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const spawned = await spawnLogged(REDIS_SENTINEL, [configPath], dir, 'sentinel.log');
      sentinelProcesses.push({ spawned, port, dir });
    }
    // Ready when every sentinel knows the other two (they find each other through the master's
    // hello channel) and the replica: only then can a majority authorise a failover.
    for (const s of sentinelProcesses) {
      await waitUntil(
        `sentinel ${s.port} sees the master, its replica and the other sentinels`,
        async () => {
          try {
            const state = await masterStateSeenBy(s.port, masterName);
            return state['num-other-sentinels'] === '2' && state['num-slaves'] === '1';
          } catch {
            return false;
          }
        },
        START_TIMEOUT_MS * 2,
        join(s.dir, 'sentinel.log'),
      );
    }
  } catch (err) {
    await dispose();
    throw err;
  }

  const byPort = (port: number | undefined) => servers.find((s) => s.port === port);
  const master = async (): Promise<RedisServer> => {
    const port = await masterPortSeenBy(sentinelProcesses[0]?.port ?? 0, masterName);
    const found = byPort(port);
    if (!found) throw new Error(`the sentinels name no known master (port ${port})`);
    return found;
  };

  let disposed: Promise<void> | undefined;
  return {
    masterName,
    addresses: sentinelProcesses.map((s) => `127.0.0.1:${s.port}`),
    sentinels: sentinelProcesses.map((s) => ({ port: s.port, pid: () => s.spawned.child.pid ?? -1 })),
    servers,
    master,
    async failover(how = 'kill') {
      const from = await master();
      const to = servers.find((s) => s !== from);
      if (!to) throw new Error('no replica to fail over to');
      if (how === 'kill') await from.kill();
      else await redisCommand(sentinelProcesses[0]?.port ?? 0, 'SENTINEL', 'FAILOVER', masterName);
      await waitUntil(
        `every sentinel naming 127.0.0.1:${to.port} as master`,
        async () => {
          const seen = await Promise.all(sentinelProcesses.map((s) => masterPortSeenBy(s.port, masterName)));
          if (!seen.every((p) => p === to.port)) return false;
          try {
            return (await redisInfo(to.port, 'replication')).role === 'master';
          } catch {
            return false;
          }
        },
        30_000,
        join(sentinelProcesses[0]?.dir ?? '', 'sentinel.log'),
      );
      return { from, to };
    },
    async rejoin(server) {
      await server.start();
      const sentinelPort = sentinelProcesses[0]?.port ?? 0;
      await waitUntil(
        `127.0.0.1:${server.port} replicating the master again`,
        async () => {
          try {
            const info = await redisInfo(server.port, 'replication');
            if (info.role !== 'slave' || info.master_link_status !== 'up') return false;
            const replicas = await redisCommand(sentinelPort, 'SENTINEL', 'REPLICAS', masterName);
            if (!Array.isArray(replicas)) return false;
            return replicas.some((r) => {
              if (!Array.isArray(r)) return false;
              const fields = new Map<string, string>();
              for (let i = 0; i + 1 < r.length; i += 2) fields.set(String(r[i]), String(r[i + 1]));
              return fields.get('port') === String(server.port) && fields.get('flags') === 'slave';
            });
          } catch {
            return false;
          }
        },
        30_000,
      );
    },
    dispose() {
      disposed ??= dispose();
      return disposed;
    },
  };
}
