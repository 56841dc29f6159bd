import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Creds } from './clients.js';
import {
  startHaproxy,
  startNginx,
  type AccessLogEntry,
  type Backend,
  type LoadBalancer,
} from './load-balancer.js';
import { OciClient } from './oci-client.js';
import { canConnect, startPostgres, type PostgresServer } from './postgres.js';
import { startRedis, startSentinelSet, type RedisServer, type SentinelSet } from './redis.js';
import { runCli, type CliResult } from './run-cli.js';
import { adminAuth, createProject, DEFAULT_TEST_PROJECTS, startWharf, type WharfHandle } from './server.js';
import { sleep } from './poll.js';

// A Wharf cluster on loopback for the HA tests, as docs describe a production one: one real
// PostgreSQL (one database), one shared storage directory, one token signing key every instance
// reads, optionally Redis (plain or Sentinel), N instances with distinct instance names and
// otherwise the same configuration (external_url = the load balancer), and nginx or HAProxy from
// deploy/ in front. stop() takes everything down even when a test failed half-way.

const execFileAsync = promisify(execFile);

export type RedisMode = 'plain' | 'sentinel' | 'none';
export type LoadBalancerKind = 'nginx' | 'haproxy';

export interface ClusterOptions {
  /** Default 3. */
  instances?: number;
  /** Default 'plain'. */
  redis?: RedisMode;
  /** The load balancer(s) in front; the first one is external_url (token realm). Default nginx. */
  loadBalancer?: LoadBalancerKind | LoadBalancerKind[];
  /** shutdown.drain_seconds of every instance; default 0. */
  drainSeconds?: number;
  /** Projects created once, through the load balancer; default test and ops. */
  projects?: string[];
  /** More YAML for every instance (no auth:, shutdown:, database:, redis:, storage:, cluster:, http:). */
  extraConfig?: string;
  /** Environment of every instance (e.g. WHARF_LOG_LEVEL: 'info' when debugging a test). */
  env?: Record<string, string>;
}

export interface ClusterInstance {
  /** cluster.instance_name, also its X-Wharf-Instance header. */
  name: string;
  handle: WharfHandle;
  /** http://127.0.0.1:PORT, straight to this instance. */
  url: string;
  /** A /v2 client straight to this instance, as admin. */
  client: OciClient;
}

export interface Cluster {
  /** The first load balancer: what clients use (http.external_url points at it). */
  lb: LoadBalancer;
  loadBalancers: LoadBalancer[];
  /** Access log of a load balancer (default the first) without what the cluster's start-up sent. */
  accessLog(lb?: LoadBalancer): Promise<AccessLogEntry[]>;
  /** The first load balancer's URL and host:port. */
  url: string;
  host: string;
  instances: ClusterInstance[];
  postgres: RestartablePostgres;
  databaseUrl: string;
  /** The plain Redis (redis: 'plain'). */
  redis?: RedisServer;
  /** The Sentinel set (redis: 'sentinel'). */
  sentinel?: SentinelSet;
  storageRoot: string;
  signingKeyFile: string;
  /** Admin credentials (for skopeo/podman/buildah) and the matching Authorization header. */
  creds: Creds;
  authorization: string;
  /** A /v2 client through the first load balancer (or the given URL), as admin. */
  client(url?: string): OciClient;
  /** The instance that answered (from X-Wharf-Instance). */
  instanceNamed(name: string): ClusterInstance;
  /** docker://HOST/REPO[:tag|@digest] through the first load balancer. */
  ref(repository: string, tagOrDigest?: string): string;
  /** `wharf fsck` with an instance's configuration (the shared database and storage). */
  fsck(options?: { repair?: boolean }): Promise<CliResult>;
  /**
   * What every instance process wrote (log level warn: errors with their request ids), kept
   * across restarts: one entry per `name (pid N)`. Snapshots are taken every 250 ms.
   */
  logs(): Map<string, string>;
  /** The log lines (of any instance process) that mention `text`, e.g. a request id. */
  logLinesWith(text: string): string[];
  /** For every `request id X` in the texts (Wharf's 500 bodies), the log lines naming X. */
  explain(texts: string[]): string[];
  /** One counter (or summed series) of an instance's /metrics. */
  metric(instance: ClusterInstance, name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL that can be stopped and started again on the same port and data directory

export interface RestartablePostgres {
  /** Admin URL (postgres database). */
  url: string;
  port: number;
  dataDir: string;
  createDatabase(name?: string): Promise<string>;
  /** Fast shutdown (SIGINT: clients are disconnected); resolves once the postmaster is gone. */
  stopServer(): Promise<void>;
  /** Starts the server again with the same settings, port and data directory. */
  startServer(): Promise<void>;
  isRunning(): boolean;
  /** Stops it for good and removes everything. Safe to call more than once. */
  dispose(): Promise<void>;
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const first = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '';
    const pid = Number(first.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The newest Debian server binaries, as test/helpers/postgres.ts finds them. */
async function postgresBinary(): Promise<string> {
  if (process.env.WHARF_PG_BINDIR) return join(process.env.WHARF_PG_BINDIR, 'postgres');
  const root = '/usr/lib/postgresql';
  const versions = (existsSync(root) ? await readdir(root) : [])
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  if (versions[0] === undefined) throw new Error(`no PostgreSQL binaries under ${root}`);
  return join(root, versions[0], 'bin', 'postgres');
}

async function postgresOsUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

/**
 * startPostgres() from ./postgres.ts, plus stop and start on the same port and data directory.
 * The first postmaster belongs to postgres.ts; a restarted one is ours, started with exactly the
 * command-line settings the first one had (read back from pg_settings), and watched like it.
 */
export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const server: PostgresServer = await startPostgres();
  let dataDir = '';
  let settings: Array<{ name: string; setting: string }> = [];
  const admin = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
    dataDir =
      (await admin.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory ?? '';
    settings = (
      await admin.query<{ name: string; setting: string }>(
        "SELECT name, setting FROM pg_settings WHERE source = 'command line' ORDER BY name",
      )
    ).rows;
  } catch (err) {
    await server.stop();
    throw err;
  } finally {
    await admin.end().catch(() => undefined);
  }
  const binary = await postgresBinary();
  const runAs = await postgresOsUser();
  let ours: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;

  const stopServer = async () => {
    const pid = await postmasterPid(dataDir);
    if (pid === undefined || !alive(pid)) return;
    process.kill(pid, 'SIGINT');
    const deadline = Date.now() + 15_000;
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(50);
    watchdog?.kill('SIGKILL');
    watchdog = undefined;
  };

  const startServer = async () => {
    const pid = await postmasterPid(dataDir);
    if (pid !== undefined && alive(pid)) return;
    const args = ['-D', dataDir];
    for (const { name, setting } of settings) args.push('-c', `${name}=${setting}`);
    const log = await open(join(dirname(dataDir), 'postgres.log'), 'a');
    try {
      ours = spawn(binary, args, { cwd: dirname(dataDir), stdio: ['ignore', log.fd, log.fd], ...runAs });
    } finally {
      await log.close();
    }
    ours.unref();
    const child = ours;
    if (child.pid !== undefined) {
      // As postgres.ts's sentinel: stops this postmaster if the test process dies.
      watchdog = spawn(
        '/bin/sh',
        [
          '-c',
          'while read -r _; do :; done; kill -QUIT "$1" 2>/dev/null',
          'wharf-pg-watchdog',
          String(child.pid),
        ],
        { detached: true, stdio: ['pipe', 'ignore', 'ignore'] },
      );
      watchdog.unref();
      (watchdog.stdin as unknown as Socket | null)?.unref();
    }
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await canConnect(server.url)) return;
      await sleep(100);
    }
    const logText = await readFile(join(dirname(dataDir), 'postgres.log'), 'utf8').catch(() => '');
    throw new Error(`PostgreSQL did not come back on port ${server.port}:\n${logText.slice(-3_000)}`);
  };

  let disposed: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    dataDir,
    createDatabase: (name) => server.createDatabase(name),
    stopServer,
    startServer,
    isRunning: () => ours === undefined || (ours.exitCode === null && ours.signalCode === null),
    dispose() {
      disposed ??= (async () => {
        // Our postmaster first (if any); then postgres.ts stops its own and removes the directory.
        if (ours) await stopServer();
        await server.stop();
      })();
      return disposed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Metrics

/** The value of `name` (summed over series matching `labels`) in a Prometheus text exposition. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      have.set(l[1] ?? '', l[2] ?? '');
    }
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

export async function fetchMetrics(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET ${url}/metrics: ${res.status}`);
  return res.text();
}

// ---------------------------------------------------------------------------------------------
// The cluster

function redisConfig(mode: RedisMode, redis?: RedisServer, sentinel?: SentinelSet): string[] {
  if (mode === 'plain' && redis) return ['redis:', `  url: "${redis.url}"`];
  if (mode === 'sentinel' && sentinel) {
    return [
      'redis:',
      '  sentinel:',
      `    addresses: [${sentinel.addresses.map((a) => `"${a}"`).join(', ')}]`,
      `    master_name: "${sentinel.masterName}"`,
    ];
  }
  return [];
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.instances ?? 3;
  const redisMode = options.redis ?? 'plain';
  const kinds = Array.isArray(options.loadBalancer)
    ? options.loadBalancer
    : [options.loadBalancer ?? 'nginx'];
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    // Last started first: load balancers, instances, Redis, PostgreSQL, directories.
    const errors: unknown[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'stopping the cluster failed in part');
  };
  try {
    const base = await mkdtemp(join(tmpdir(), 'wharf-cluster-'));
    cleanups.push(() => rm(base, { recursive: true, force: true }));
    const storageRoot = join(base, 'storage');
    const signingKeyFile = join(base, 'token-signing-key.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(signingKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

    const [postgres, redis, sentinel] = await Promise.all([
      startRestartablePostgres(),
      redisMode === 'plain' ? startRedis() : Promise.resolve(undefined),
      redisMode === 'sentinel' ? startSentinelSet() : Promise.resolve(undefined),
    ]);
    cleanups.push(() => postgres.dispose());
    if (redis) cleanups.push(() => redis.dispose());
    if (sentinel) cleanups.push(() => sentinel.dispose());
    const databaseUrl = await postgres.createDatabase();

    // The load balancers come first (external_url names one); their backends are set once the
    // instances have ports. Until then they point at a port nothing listens on.
    const placeholder: Backend[] = [{ host: '127.0.0.1', port: 9 }];
    const loadBalancers: LoadBalancer[] = [];
    for (const kind of kinds) {
      const lb = kind === 'nginx' ? await startNginx(placeholder) : await startHaproxy(placeholder);
      loadBalancers.push(lb);
      cleanups.push(() => lb.stop());
    }
    const lb = loadBalancers[0];
    if (!lb) throw new Error('a cluster needs a load balancer');

    const shared = [
      ...redisConfig(redisMode, redis, sentinel),
      'storage:',
      '  filesystem:',
      `    root: "${storageRoot}"`,
      'http:',
      `  external_url: "${lb.url}"`,
      '  trust_proxy: [loopback] # the balancers run on loopback',
      options.extraConfig ?? '',
    ];
    const handles = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const name = `wharf-${i + 1}`;
        const handle = await startWharf({
          databaseUrl,
          projects: [],
          ...(options.env && { env: options.env }),
          drainSeconds: options.drainSeconds ?? 0,
          authConfig: { token: { signing_key_file: signingKeyFile } },
          extraConfig: ['cluster:', `  instance_name: "${name}"`, ...shared].join('\n'),
        });
        cleanups.push(async () => {
          await handle.kill();
          await handle.stop();
        });
        return { name, handle };
      }),
    );
    const first = handles[0]?.handle;
    if (!first) throw new Error('a cluster needs an instance');
    const authorization = adminAuth(first);
    const instances: ClusterInstance[] = handles.map(({ name, handle }) => ({
      name,
      handle,
      url: handle.url,
      client: new OciClient(handle.url, authorization),
    }));
    const backends = instances.map((i) => ({ host: '127.0.0.1', port: i.handle.port }));
    for (const balancer of loadBalancers) await balancer.setBackends(backends);
    await Promise.all(loadBalancers.map((balancer) => waitForAllBehind(balancer, instances)));

    for (const project of options.projects ?? DEFAULT_TEST_PROJECTS) {
      await createProject(
        { url: lb.url, adminUser: first.adminUser, adminPassword: first.adminPassword },
        project,
      );
    }

    const logs = new Map<string, string>();
    const snapshot = () => {
      for (const { name, handle } of instances) {
        const pid = handle.pid();
        if (pid > 0 && handle.output()) logs.set(`${name} (pid ${pid})`, handle.output());
      }
    };
    const snapshots = setInterval(snapshot, 250);
    snapshots.unref();
    cleanups.push(async () => clearInterval(snapshots));

    // What the start-up sent (the placeholder backend, readiness polling, project creation) is
    // not what the tests look at.
    const startupEntries = new Map<LoadBalancer, number>();
    for (const balancer of loadBalancers) startupEntries.set(balancer, (await balancer.accessLog()).length);

    const host = new URL(lb.url).host;
    const cluster: Cluster = {
      lb,
      loadBalancers,
      url: lb.url,
      host,
      async accessLog(balancer = lb) {
        return (await balancer.accessLog()).slice(startupEntries.get(balancer) ?? 0);
      },
      instances,
      postgres,
      databaseUrl,
      ...(redis && { redis }),
      ...(sentinel && { sentinel }),
      storageRoot,
      signingKeyFile,
      creds: { username: first.adminUser, password: first.adminPassword },
      authorization,
      client: (url = lb.url) => new OciClient(url, authorization),
      instanceNamed(name) {
        const found = instances.find((i) => i.name === name);
        if (!found) throw new Error(`no instance named ${JSON.stringify(name)}`);
        return found;
      },
      ref(repository, tagOrDigest) {
        const suffix =
          tagOrDigest === undefined ? '' : tagOrDigest.includes(':') ? `@${tagOrDigest}` : `:${tagOrDigest}`;
        return `docker://${host}/${repository}${suffix}`;
      },
      fsck(fsckOptions = {}) {
        return runCli(
          [
            'fsck',
            '--config',
            first.configPath,
            '--data-dir',
            first.dataDir,
            ...(fsckOptions.repair ? ['--repair'] : []),
          ],
          {},
          180_000,
        );
      },
      logs() {
        snapshot();
        return new Map(logs);
      },
      logLinesWith(text) {
        snapshot();
        const lines: string[] = [];
        for (const [who, output] of logs) {
          for (const line of output.split('\n')) if (line.includes(text)) lines.push(`${who}: ${line}`);
        }
        return lines;
      },
      explain(texts) {
        const ids = new Set<string>();
        for (const text of texts)
          for (const m of text.matchAll(/request id ([0-9a-zA-Z-]+)/g)) ids.add(m[1] ?? '');
        return [...ids].flatMap((id) => {
          const lines = cluster.logLinesWith(id);
          return lines.length > 0 ? lines : [`request id ${id}: no log line found`];
        });
      },
      async metric(instance, name, labels) {
        return metricValue(await fetchMetrics(instance.url), name, labels);
      },
      stop,
    };
    return cluster;
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/**
 * Waits until requests through the load balancer have reached every instance (HAProxy's health
 * checks need `rise` passes before it sends traffic to a server).
 */
export async function waitForAllBehind(
  lb: LoadBalancer,
  instances: ClusterInstance[],
  timeoutMs = 30_000,
): Promise<void> {
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${lb.url}/v2/`, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      const name = res.headers.get('x-wharf-instance');
      if (name) seen.add(name);
      if (instances.every((i) => seen.has(i.name))) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(
    `${lb.kind} did not reach every instance within ${timeoutMs} ms (saw ${[...seen].join(', ')})`,
  );
}

export interface HealthComponent {
  name: string;
  status: string;
  error?: string;
}

export async function health(url: string): Promise<{ status: string; components: HealthComponent[] }> {
  const res = await fetch(`${url}/api/v2.0/health`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as { status: string; components: HealthComponent[] };
}

export async function componentStatus(url: string, component: string): Promise<string | undefined> {
  return (await health(url)).components.find((c) => c.name === component)?.status;
}
