// Real nginx and HAProxy processes on loopback, configured from the project's own samples
// (deploy/nginx/wharf.conf, deploy/haproxy/haproxy.cfg), so that a test through them proves the
// samples work. The samples mark the lines a test must change:
//   a line ending in `# [wharf-test:NAME]`            is replaced as a whole;
//   lines between `# [wharf-test:NAME begin]` and `# [wharf-test:NAME end]` are replaced as a block.
// Names used: nginx `backends`, `listen`, `access-log`; HAProxy `process`, `maxconn`, `listen`,
// `backends`, `stats-listen`. Backend lines keep the sample's options: the first `server` line of
// the block is the template, only its name and address change. WHARF_TEST_KEEP_LB_DIR=1 keeps the
// temporary directory (configuration, logs) after stop().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { killOnExit, waitForExit } from './processes.js';

export interface Backend {
  host: string;
  port: number;
}

export interface AccessLogEntry {
  method: string;
  path: string;
  status: number;
  /** X-Wharf-Instance of the upstream response, '' when none */
  instance: string;
  /** upstream address(es) nginx/haproxy tried */
  upstream: string;
}

export interface LoadBalancer {
  url: string;
  port: number;
  kind: 'nginx' | 'haproxy';
  /** Temporary directory with the rendered configuration, logs and (nginx) temp paths. */
  dir: string;
  /**
   * Every request logged so far, oldest first. A line is written when the request completes,
   * which can be a moment after the client has the whole response: poll for the count you expect.
   * nginx lists every upstream address it tried ("a:1, b:2"); HAProxy logs the last one only.
   */
  accessLog(): Promise<AccessLogEntry[]>;
  /** replaces the backend list and reloads gracefully */
  setBackends(backends: Backend[]): Promise<void>;
  stop(): Promise<void>;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const NGINX_SAMPLE = join(repoRoot, 'deploy/nginx/wharf.conf');
export const HAPROXY_SAMPLE = join(repoRoot, 'deploy/haproxy/haproxy.cfg');

const NGINX = process.env.WHARF_TEST_NGINX ?? '/usr/sbin/nginx';
const HAPROXY = process.env.WHARF_TEST_HAPROXY ?? '/usr/sbin/haproxy';
const START_TIMEOUT_MS = 15_000;
const RELOAD_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Rendering

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces the one line ending in `# [wharf-test:NAME]`, keeping its indentation. */
export function replaceMarkedLine(text: string, name: string, replacement: string): string {
  const re = new RegExp(`^([ \\t]*).*#\\s*\\[wharf-test:${escapeRegExp(name)}\\][ \\t]*$`, 'gm');
  const matches = text.match(re);
  if (!matches || matches.length !== 1) {
    throw new Error(`expected exactly one line marked [wharf-test:${name}], found ${matches?.length ?? 0}`);
  }
  return text.replace(re, (_line, indent: string) => `${indent}${replacement}`);
}

/** Replaces the lines between the `begin` and `end` markers of NAME (markers included). */
export function replaceMarkedBlock(
  text: string,
  name: string,
  render: (inner: string[], indent: string) => string[],
): string {
  const lines = text.split('\n');
  const marker = (which: string) => new RegExp(`#\\s*\\[wharf-test:${escapeRegExp(name)} ${which}\\]\\s*$`);
  const begin = lines.findIndex((l) => marker('begin').test(l));
  const end = lines.findIndex((l) => marker('end').test(l));
  if (begin < 0 || end < begin) throw new Error(`no block marked [wharf-test:${name} begin/end]`);
  const indent = /^[ \t]*/.exec(lines[begin] ?? '')?.[0] ?? '';
  const inner = lines.slice(begin + 1, end);
  const replacement = render(inner, indent).map((l) => `${indent}${l}`);
  return [...lines.slice(0, begin), ...replacement, ...lines.slice(end + 1)].join('\n');
}

function hostPort(b: Backend): string {
  return b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

function assertBackends(backends: Backend[]): void {
  if (backends.length === 0) throw new Error('a load balancer needs at least one backend');
}

/** The sample's `server` lines for `backends`: options of the first sample line, new addresses. */
function renderServerLines(inner: string[], backends: Backend[], kind: 'nginx' | 'haproxy'): string[] {
  const template = inner.map((l) => l.trim()).find((l) => l.startsWith('server '));
  if (!template) throw new Error('the backends block has no server line');
  if (kind === 'nginx') {
    // server ADDRESS [options];
    const m = /^server\s+\S+(.*)$/.exec(template);
    const options = m?.[1] ?? ';';
    return backends.map((b) => `server ${hostPort(b)}${options}`);
  }
  // server NAME ADDRESS [options]
  const m = /^server\s+\S+\s+\S+(.*)$/.exec(template);
  const options = m?.[1] ?? '';
  return backends.map((b, i) => `server wharf-${i + 1} ${hostPort(b)}${options}`);
}

export interface NginxRenderOptions {
  port: number;
  backends: Backend[];
  accessLogPath: string;
}

/** deploy/nginx/wharf.conf with test values (still the http-context snippet). */
export function renderNginxSample(sample: string, o: NginxRenderOptions): string {
  assertBackends(o.backends);
  let text = replaceMarkedBlock(sample, 'backends', (inner) => renderServerLines(inner, o.backends, 'nginx'));
  text = replaceMarkedLine(text, 'listen', `listen 127.0.0.1:${o.port};`);
  text = replaceMarkedLine(text, 'access-log', `access_log ${o.accessLogPath} wharf;`);
  return text;
}

export interface HaproxyRenderOptions {
  port: number;
  statsPort: number;
  backends: Backend[];
}

/** deploy/haproxy/haproxy.cfg with test values: logs to stdout, no chroot/user switch. */
export function renderHaproxySample(sample: string, o: HaproxyRenderOptions): string {
  assertBackends(o.backends);
  // One thread: with several, HAProxy drops a stdout log line whenever threads contend for the
  // descriptor (by design, haproxy/haproxy#1861), and the tests read every line of the log.
  let text = replaceMarkedBlock(sample, 'process', () => ['log stdout format raw local0', 'nbthread 1']);
  text = replaceMarkedBlock(text, 'backends', (inner) => renderServerLines(inner, o.backends, 'haproxy'));
  text = replaceMarkedLine(text, 'listen', `bind 127.0.0.1:${o.port}`);
  text = replaceMarkedLine(text, 'stats-listen', `bind 127.0.0.1:${o.statsPort}`);
  // A test needs few connections, and may run under a low file-descriptor limit.
  text = replaceMarkedLine(text, 'maxconn', 'maxconn 1000');
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** The main nginx.conf around the rendered snippet: everything under `dir`, one worker. */
function nginxMainConfig(dir: string): string {
  const user = process.getuid?.() === 0 ? 'user nobody nogroup;\n' : '';
  return `# Generated by test/helpers/load-balancer.ts around deploy/nginx/wharf.conf.
${user}worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} notice;
events { worker_connections 1024; }
http {
    client_body_temp_path ${join(dir, 'client_body')};
    proxy_temp_path ${join(dir, 'proxy')};
    fastcgi_temp_path ${join(dir, 'fastcgi')};
    uwsgi_temp_path ${join(dir, 'uwsgi')};
    scgi_temp_path ${join(dir, 'scgi')};
    include ${join(dir, 'wharf.conf')};
}
`;
}

export interface RenderedConfig {
  dir: string;
  /** The file to hand to nginx -c / haproxy -f. */
  configPath: string;
  /** Arguments for a configuration check (`nginx -t …` / `haproxy -c …`). */
  checkArgs: string[];
}

/** Renders the nginx sample into `dir` (nginx.conf + wharf.conf). */
export async function writeNginxConfig(
  dir: string,
  port: number,
  backends: Backend[],
): Promise<RenderedConfig> {
  const sample = await readFile(NGINX_SAMPLE, 'utf8');
  const snippet = renderNginxSample(sample, { port, backends, accessLogPath: join(dir, 'access.log') });
  await writeFile(join(dir, 'wharf.conf'), snippet);
  const configPath = join(dir, 'nginx.conf');
  await writeFile(configPath, nginxMainConfig(dir));
  return {
    dir,
    configPath,
    checkArgs: ['-t', '-q', '-p', dir, '-c', configPath, '-e', join(dir, 'error.log')],
  };
}

/** Renders the HAProxy sample into `dir` (haproxy.cfg). */
export async function writeHaproxyConfig(
  dir: string,
  port: number,
  statsPort: number,
  backends: Backend[],
): Promise<RenderedConfig> {
  const sample = await readFile(HAPROXY_SAMPLE, 'utf8');
  const configPath = join(dir, 'haproxy.cfg');
  await writeFile(configPath, renderHaproxySample(sample, { port, statsPort, backends }));
  return { dir, configPath, checkArgs: ['-c', '-q', '-f', configPath] };
}

/** Runs a configuration check; throws with the tool's output when it fails. */
export function checkConfig(kind: 'nginx' | 'haproxy', rendered: RenderedConfig): void {
  const r = spawnSync(kind === 'nginx' ? NGINX : HAPROXY, rendered.checkArgs, {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.status !== 0) {
    throw new Error(`${kind} config check failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Access logs

function dash(v: string | undefined): string {
  return v === undefined || v === '-' ? '' : v;
}

function pathOnly(uri: string): string {
  const q = uri.indexOf('?');
  return q < 0 ? uri : uri.slice(0, q);
}

// Both samples log `key=value` fields; see their log formats.
const LOG_LINE = /method=(\S+) path="([^"]*)" status=(\d+) .*?instance="([^"]*)" upstream="([^"]*)"/;

export function parseAccessLog(text: string): AccessLogEntry[] {
  const entries: AccessLogEntry[] = [];
  for (const line of text.split('\n')) {
    const m = LOG_LINE.exec(line);
    if (!m) continue;
    const upstream = dash(m[5]);
    entries.push({
      method: m[1] ?? '',
      path: pathOnly(m[2] ?? ''),
      status: Number(m[3]),
      instance: dash(m[4]),
      upstream: upstream === '-:-' ? '' : upstream,
    });
  }
  return entries;
}

async function readIfExists(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function waitForPort(port: number, child: ChildProcess, errPath: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}): ${await readIfExists(errPath)}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `not listening on 127.0.0.1:${port} after ${START_TIMEOUT_MS} ms: ${await readIfExists(errPath)}`,
  );
}

/** Waits until the text `file` grew by since `offset` matches all of `done`; throws on `failed`. */
async function waitForLogText(file: string, offset: number, done: RegExp[], failed: RegExp): Promise<void> {
  const deadline = Date.now() + RELOAD_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const added = (await readIfExists(file)).slice(offset);
    if (failed.test(added)) throw new Error(`reload failed: ${added}`);
    if (done.every((re) => re.test(added))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`reload not confirmed in ${file} within ${RELOAD_TIMEOUT_MS} ms`);
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

interface Started {
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startProcess(
  command: string,
  args: string[],
  dir: string,
  port: number,
  stdoutPath: string,
  stderrPath: string,
): Promise<Started> {
  const out = openSync(stdoutPath, 'a');
  const err = openSync(stderrPath, 'a');
  // detached: its own process group, so that stop() reaches the workers too.
  const child = spawn(command, args, { cwd: dir, detached: true, stdio: ['ignore', out, err] });
  closeSync(out);
  closeSync(err);
  killOnExit(child, () => killGroup(child, 'SIGKILL'));
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS);
      await waitForExit(child, 2 * STOP_TIMEOUT_MS);
      clearTimeout(timer);
      // Workers of a master that died first.
      killGroup(child, 'SIGKILL');
      // WHARF_TEST_KEEP_LB_DIR=1 keeps configuration and logs for a post-mortem.
      if (process.env.WHARF_TEST_KEEP_LB_DIR) console.error(`load balancer files kept in ${dir}`);
      else await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    await waitForPort(port, child, stderrPath);
  } catch (e) {
    await stop();
    throw new Error(`${command} did not start: ${(e as Error).message}`, { cause: e });
  }
  return { child, stop };
}

async function makeDir(kind: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `wharf-${kind}-`));
  // nginx workers run as nobody when the master is root; they need to reach their temp paths.
  await chmod(dir, 0o755);
  return dir;
}

export async function startNginx(backends: Backend[]): Promise<LoadBalancer> {
  const dir = await makeDir('nginx');
  const port = await freePort();
  const errorLog = join(dir, 'error.log');
  const accessLog = join(dir, 'access.log');
  let rendered: RenderedConfig;
  try {
    rendered = await writeNginxConfig(dir, port, backends);
    checkConfig('nginx', rendered);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const { child, stop } = await startProcess(
    NGINX,
    ['-p', dir, '-c', rendered.configPath, '-e', errorLog, '-g', 'daemon off;'],
    dir,
    port,
    join(dir, 'stdout.log'),
    errorLog,
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    kind: 'nginx',
    dir,
    accessLog: async () => parseAccessLog(await readIfExists(accessLog)),
    async setBackends(next: Backend[]) {
      const offset = await fileSize(errorLog);
      checkConfig('nginx', await writeNginxConfig(dir, port, next));
      if (child.pid === undefined) throw new Error('nginx is not running');
      process.kill(child.pid, 'SIGHUP');
      // The master logs "reconfiguring" and starts new workers; the old ones log "gracefully
      // shutting down" when they have closed their listeners (they finish their requests).
      await waitForLogText(errorLog, offset, [/reconfiguring/, /gracefully shutting down/], /\[emerg\]/);
    },
    stop,
  };
}

export async function startHaproxy(backends: Backend[]): Promise<LoadBalancer> {
  const dir = await makeDir('haproxy');
  const port = await freePort();
  const statsPort = await freePort();
  const logPath = join(dir, 'access.log');
  const stderrPath = join(dir, 'haproxy.stderr');
  let rendered: RenderedConfig;
  try {
    rendered = await writeHaproxyConfig(dir, port, statsPort, backends);
    checkConfig('haproxy', rendered);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  // -W: master-worker (SIGUSR2 reloads: a new worker takes the listeners, the old one finishes
  // its connections); -db: stay in the foreground, logs (log stdout) to our file.
  const { child, stop } = await startProcess(
    HAPROXY,
    ['-W', '-db', '-f', rendered.configPath, '-p', join(dir, 'haproxy.pid')],
    dir,
    port,
    logPath,
    stderrPath,
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    kind: 'haproxy',
    dir,
    accessLog: async () => parseAccessLog(await readIfExists(logPath)),
    async setBackends(next: Backend[]) {
      const offset = await fileSize(stderrPath);
      checkConfig('haproxy', await writeHaproxyConfig(dir, port, statsPort, next));
      if (child.pid === undefined) throw new Error('haproxy is not running');
      process.kill(child.pid, 'SIGUSR2');
      // The master forks a new worker ("Loading success"); the old one stops its proxies
      // (closes its listeners) and finishes its connections. The two lines come in either order.
      await waitForLogText(stderrPath, offset, [/Loading success/, /Proxy wharf stopped/], /Loading failure/);
    },
    stop,
  };
}
