import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateImage, ociReference, presets } from '../test/fixtures/image-generator.js';
import { BackgroundLoad } from './background.js';
import { processTree } from './big-upload.js';
import type { Credentials } from './client.js';
import { writeSection } from './doc-section.js';
import { repoRoot, startWharf, type Server } from './servers.js';
import { chooseCacheIsolation, skopeoCopy, skopeoVersion, type CacheIsolation } from './skopeo.js';

// `npm run bench:replication`: one 300 MB image copied from Wharf instance A to Wharf instance B
// by Wharf's own replication (a manual push policy, one execution) and by `skopeo copy` between
// the same two, alternating in rounds of the same run. Medians and the ratio Wharf / skopeo go
// into docs/benchmarks.md.

const MARKERS = {
  start: '<!-- replication: written by npm run bench:replication -->',
  end: '<!-- replication: end -->',
};
const TIME_BUDGET_MINUTES = 20;
/** How often the execution is polled; the measured time is at most this much late. */
const POLL_MS = 50;
/** One copy of the image may take this long before the run gives up. */
const COPY_TIMEOUT_MS = 5 * 60_000;
const SOURCE_REPOSITORY = 'library/replication-source';
const TAG = 'bench';

const USAGE = `usage: node bench/run.ts replication [options]
  --rounds N     rounds, each one Wharf replication and one skopeo copy, alternating (default 3)
  --image-mb N   size of the test image in MB (default 300)
  --no-doc       do not write docs/benchmarks.md`;

type Method = 'wharf' | 'skopeo';

interface Copy {
  method: Method;
  round: number;
  seconds: number;
  /** CPU seconds of the two Wharf processes during the copy. */
  cpuA: number;
  cpuB: number;
  /** CPU seconds of skopeo (children the bench waited for), 0 for replication. */
  cpuClient: number;
  /** Wharf only: the execution's own start and end times, and what the task log says it moved. */
  serverSeconds?: number;
  taskSummary?: string;
}

interface Run {
  rounds: number;
  imageBytes: number;
  layerCount: number;
  copies: Copy[];
  background: Map<string, number>;
  startLoad: number;
  isolation: CacheIsolation;
  durationSeconds: number;
  versions: { wharf: string; skopeo: string };
}

interface ExecutionJson {
  id: number;
  status: string;
  status_text: string;
  total: number;
  succeed: number;
  failed: number;
  start_time: string;
  end_time: string | null;
}

interface TaskJson {
  id: number;
  status: string;
  dst_resource: string;
}

const log = (message: string) =>
  console.error(`[replication ${new Date().toISOString().slice(11, 19)}] ${message}`);

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

function ticksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
const TICKS = ticksPerSecond();

/** utime + stime (+ cutime + cstime) of a process in seconds; 0 when it is gone. */
function cpuSeconds(pid: number | 'self', withChildren: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const indexes = withChildren ? [11, 12, 13, 14] : [11, 12];
    return indexes.reduce((sum, i) => sum + Number(fields[i] ?? 0), 0) / TICKS;
  } catch {
    return 0;
  }
}

const treeCpu = (pid: number) => processTree(pid).reduce((s, p) => s + cpuSeconds(p, true), 0);

function basicAuth(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The management API of one instance, as its admin. */
class Api {
  private readonly server: Server;
  private readonly credentials: Credentials;

  constructor(server: Server, credentials: Credentials) {
    this.server = server;
    this.credentials = credentials;
  }

  async call(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.server.url}/api/v2.0${path}`, {
      method,
      headers: {
        authorization: basicAuth(this.credentials),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
  }

  /** POST that must answer 201; returns the id at the end of its Location. */
  async create(path: string, body: unknown): Promise<number> {
    const res = await this.call('POST', path, body);
    const text = await res.text();
    if (res.status !== 201) throw new Error(`POST ${path} on ${this.server.label}: ${res.status} ${text}`);
    const id = Number(res.headers.get('location')?.split('/').pop());
    if (!Number.isSafeInteger(id)) throw new Error(`POST ${path}: no id in the Location header`);
    return id;
  }

  async json<T>(path: string): Promise<T> {
    const res = await this.call('GET', path);
    if (!res.ok) throw new Error(`GET ${path} on ${this.server.label}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async text(path: string): Promise<string> {
    const res = await this.call('GET', path);
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${path} on ${this.server.label}: ${res.status} ${text}`);
    return text;
  }

  /** Creates a project (pushes and replication never create one). */
  async project(name: string): Promise<void> {
    const res = await this.call('POST', '/projects', { project_name: name, metadata: { public: 'false' } });
    await res.arrayBuffer();
    if (res.status !== 201)
      throw new Error(`creating project ${name} on ${this.server.label}: ${res.status}`);
  }
}

/** The manifest digest a tag points at, or null. */
async function tagDigest(
  server: Server,
  credentials: Credentials,
  repository: string,
): Promise<string | null> {
  const res = await fetch(`${server.url}/v2/${repository}/manifests/${TAG}`, {
    method: 'HEAD',
    headers: {
      authorization: basicAuth(credentials),
      accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`HEAD ${repository}:${TAG} on ${server.label}: ${res.status}`);
  return res.headers.get('docker-content-digest');
}

function parseOptions(argv: string[]): { rounds: number; imageBytes: number; writeDoc: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      'image-mb': { type: 'string', default: '300' },
      'no-doc': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const rounds = Number(values.rounds);
  const imageMb = Number(values['image-mb']);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds must be a whole number >= 1\n${USAGE}`);
  if (!Number.isFinite(imageMb) || imageMb <= 0)
    throw new Error(`--image-mb must be a positive number\n${USAGE}`);
  return { rounds, imageBytes: Math.round(imageMb * 1e6), writeDoc: !values['no-doc'] };
}

export async function main(argv: string[]): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(argv);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  try {
    execFileSync('sh', ['-c', 'command -v skopeo'], { stdio: 'ignore' });
  } catch {
    console.error('the replication bench needs skopeo on PATH');
    return 2;
  }
  const started = performance.now();
  const startLoad = loadavg()[0] ?? 0;
  const work = await mkdtemp(join(tmpdir(), 'wharf-replication-bench-'));
  const stops: Array<() => Promise<void>> = [];
  const cleanUp = async () => {
    await Promise.allSettled(stops.splice(0).map((stop) => stop()));
    await rm(work, { recursive: true, force: true });
  };
  // Whatever hangs, the run ends: after the time budget, or on Ctrl-C, with every process stopped.
  const abort = (reason: string) => {
    log(`aborted: ${reason}`);
    void cleanUp().finally(() => process.exit(1));
  };
  const watchdog = setTimeout(
    () => abort(`longer than ${TIME_BUDGET_MINUTES} minutes`),
    TIME_BUDGET_MINUTES * 60_000,
  );
  watchdog.unref();
  const onSignal = (signal: string) => abort(`${signal} received`);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const runId = randomBytes(3).toString('hex');
    const isolation = chooseCacheIsolation();

    log(`generating a ${options.imageBytes / 1e6} MB OCI image layout with test/fixtures/image-generator.ts`);
    const layout = join(work, 'image');
    const spec = presets.large({ tag: TAG, totalBytes: options.imageBytes, layerCount: 5, seed: 'bench' });
    // Random content does not compress; the fastest gzip level saves time and changes no size.
    const image = await generateImage(layout, { ...spec, gzipLevel: 1 });

    const servers: Server[] = [];
    for (const name of ['wharf-a', 'wharf-b']) {
      log(`starting ${name}`);
      const server = await startWharf(name, { extraConfig: ['cluster:', `  instance_name: ${name}`] });
      stops.push(() => server.stop());
      servers.push(server);
      log(`${name} ${server.version} listens on ${server.host}, pid ${server.pid}`);
    }
    const [a, b] = servers as [Server, Server];
    const credsA = a.pushCredentials as Credentials;
    const credsB = b.pushCredentials as Credentials;
    const apiA = new Api(a, credsA);
    const apiB = new Api(b, credsB);

    log(`pushing the image to ${a.label} (${SOURCE_REPOSITORY}:${TAG})`);
    await skopeoCopy(
      { ref: ociReference(layout, TAG) },
      { ref: `docker://${a.host}/${SOURCE_REPOSITORY}:${TAG}`, credentials: credsA },
      isolation,
      work,
    );
    const sourceDigest = await tagDigest(a, credsA, SOURCE_REPOSITORY);
    if (sourceDigest !== image.digest) {
      throw new Error(`${a.label} holds ${String(sourceDigest)} for the image, not ${image.digest}`);
    }

    const endpoint = await apiA.create('/registries', {
      name: `wharf-b-${runId}`,
      url: b.url,
      type: 'harbor',
      insecure: true,
      credential: { type: 'basic', access_key: credsB.username, access_secret: credsB.password },
    });

    const background = new BackgroundLoad([a.pid, b.pid]);
    const copies: Copy[] = [];
    const measure = async (method: Method, round: number, copy: () => Promise<Partial<Copy>>) => {
      const before = { a: treeCpu(a.pid), b: treeCpu(b.pid), self: cpuSeconds('self', true) };
      const t0 = performance.now();
      const extra = await background.during(`${method} ${round}`, copy);
      const seconds = (performance.now() - t0) / 1000;
      const result: Copy = {
        method,
        round,
        seconds,
        cpuA: treeCpu(a.pid) - before.a,
        cpuB: treeCpu(b.pid) - before.b,
        cpuClient: method === 'skopeo' ? cpuSeconds('self', true) - before.self : 0,
        ...extra,
      };
      copies.push(result);
      log(
        `round ${round} ${method}: ${seconds.toFixed(2)} s, ${(image.totalSize / 1e6 / seconds).toFixed(1)} MB/s; ` +
          `CPU s: A ${result.cpuA.toFixed(2)}, B ${result.cpuB.toFixed(2)}` +
          (method === 'skopeo' ? `, skopeo ${result.cpuClient.toFixed(2)}` : '') +
          (result.taskSummary ? `; task: ${result.taskSummary}` : ''),
      );
    };

    const replicate = async (round: number): Promise<void> => {
      // Set-up outside the timed part: a fresh destination project and a policy into it.
      const namespace = `repl-${runId}-${round}`;
      await apiB.project(namespace);
      const policy = await apiA.create('/replication/policies', {
        name: `bench-${runId}-${round}`,
        dest_registry: { id: endpoint },
        dest_namespace: namespace,
        dest_namespace_replace_count: 1,
        filters: [{ type: 'name', value: SOURCE_REPOSITORY }],
        trigger: { type: 'manual' },
        override: true,
        enabled: true,
      });
      const destination = `${namespace}/${SOURCE_REPOSITORY.split('/').slice(1).join('/')}`;
      let executionId = 0;
      await measure('wharf', round, async () => {
        executionId = await apiA.create('/replication/executions', { policy_id: policy });
        const until = Date.now() + COPY_TIMEOUT_MS;
        let execution: ExecutionJson;
        for (;;) {
          execution = await apiA.json<ExecutionJson>(`/replication/executions/${executionId}`);
          if (execution.status !== 'InProgress') break;
          if (Date.now() > until)
            throw new Error(`execution ${executionId} still in progress after ${COPY_TIMEOUT_MS} ms`);
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
        const serverSeconds =
          execution.end_time === null
            ? undefined
            : (Date.parse(execution.end_time) - Date.parse(execution.start_time)) / 1000;
        if (execution.status !== 'Succeed' || execution.total !== 1 || execution.succeed !== 1) {
          throw new Error(`execution ${executionId} ended ${JSON.stringify(execution)}`);
        }
        return serverSeconds === undefined ? {} : { serverSeconds };
      });
      const tasks = await apiA.json<TaskJson[]>(`/replication/executions/${executionId}/tasks`);
      const task = tasks[0];
      if (task) {
        const text = await apiA.text(`/replication/executions/${executionId}/tasks/${task.id}/log`);
        const done = /done \S+: (.+)$/m.exec(text)?.[1];
        const last = copies[copies.length - 1];
        if (done && last) last.taskSummary = done;
      }
      const arrived = await tagDigest(b, credsB, destination);
      if (arrived !== image.digest) {
        throw new Error(
          `after replication ${b.label} holds ${String(arrived)} at ${destination}, not ${image.digest}`,
        );
      }
    };

    const skopeo = async (round: number): Promise<void> => {
      const destination = `library/skopeo-${runId}-${round}`;
      await measure('skopeo', round, async () => {
        await skopeoCopy(
          { ref: `docker://${a.host}/${SOURCE_REPOSITORY}:${TAG}`, credentials: credsA },
          { ref: `docker://${b.host}/${destination}:${TAG}`, credentials: credsB },
          isolation,
          work,
        );
        return {};
      });
      const arrived = await tagDigest(b, credsB, destination);
      if (arrived !== image.digest) {
        throw new Error(
          `after skopeo ${b.label} holds ${String(arrived)} at ${destination}, not ${image.digest}`,
        );
      }
    };

    for (let round = 1; round <= options.rounds; round++) {
      // Alternating: replication first in odd rounds, skopeo first in even ones.
      if (round % 2 === 1) {
        await replicate(round);
        await skopeo(round);
      } else {
        await skopeo(round);
        await replicate(round);
      }
    }

    const section = report({
      rounds: options.rounds,
      imageBytes: image.totalSize,
      layerCount: image.layers.length,
      copies,
      background: background.summary(),
      startLoad,
      isolation,
      durationSeconds: (performance.now() - started) / 1000,
      versions: { wharf: a.version, skopeo: skopeoVersion() },
    });
    console.log(section);
    if (options.writeDoc) {
      const path = join(repoRoot, 'docs', 'benchmarks.md');
      await writeSection(path, MARKERS, section);
      log(`wrote the replication section of ${path}`);
    }
    return 0;
  } catch (err) {
    console.error(
      `replication bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    return 1;
  } finally {
    clearTimeout(watchdog);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

function report(r: Run): string {
  const mbps = (c: Copy) => r.imageBytes / 1e6 / c.seconds;
  const of = (method: Method) => r.copies.filter((c) => c.method === method);
  const wharf = of('wharf');
  const skopeo = of('skopeo');
  const mW = median(wharf.map(mbps));
  const mS = median(skopeo.map(mbps));
  const f1 = (x: number) => x.toFixed(1);
  const f2 = (x: number) => x.toFixed(2);
  const cpu = (cs: Copy[], pick: (c: Copy) => number) => f1(median(cs.map(pick)));
  const share = (method: Method) =>
    median([...r.background].filter(([name]) => name.startsWith(`${method} `)).map(([, v]) => v * 100));
  const lines = [
    MARKERS.start,
    '## Replication: Wharf to Wharf, by replication and by skopeo copy',
    '',
    `Run on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:replication\`, taking ${Math.round(r.durationSeconds)} s; Wharf ${r.versions.wharf}, skopeo ${r.versions.skopeo}.`,
    '',
    `| ${Math.round(r.imageBytes / 1e6)} MB image, A → B | Wharf replication | skopeo copy | Wharf / skopeo | better |`,
    '| --- | ---: | ---: | ---: | --- |',
    `| throughput, median of ${r.rounds} | ${f1(mW)} MB/s | ${f1(mS)} MB/s | ${f2(mW / mS)}× | higher is better |`,
    `| wall-clock time, median | ${f2(median(wharf.map((c) => c.seconds)))} s | ${f2(median(skopeo.map((c) => c.seconds)))} s | ${f2(median(wharf.map((c) => c.seconds)) / median(skopeo.map((c) => c.seconds)))}× | lower is better |`,
    `| CPU seconds of instance A (source), median | ${cpu(wharf, (c) => c.cpuA)} | ${cpu(skopeo, (c) => c.cpuA)} | | lower is better |`,
    `| CPU seconds of instance B (destination), median | ${cpu(wharf, (c) => c.cpuB)} | ${cpu(skopeo, (c) => c.cpuB)} | | lower is better |`,
    `| CPU seconds of the skopeo process, median | — | ${cpu(skopeo, (c) => c.cpuClient)} | | lower is better |`,
    '',
    `Per round (MB/s): Wharf replication ${wharf.map((c) => f1(mbps(c))).join(', ')}; skopeo ${skopeo.map((c) => f1(mbps(c))).join(', ')}. ` +
      `The executions' own times (start_time to end_time): ${wharf.map((c) => (c.serverSeconds === undefined ? '?' : `${f2(c.serverSeconds)} s`)).join(', ')}. ` +
      `What the task log says it moved: ${[...new Set(wharf.map((c) => c.taskSummary ?? '?'))].join('; ')}. ` +
      `Share of the machine's CPU used by other processes meanwhile (median): ${f1(share('wharf'))}% during replication, ${f1(share('skopeo'))}% during skopeo; the 1-minute load average was ${f1(r.startLoad)} at the start.`,
    '',
    'How measured: both sides ran in the same run on the same machine (2 cores), alternating, ' +
      'replication first in odd rounds and skopeo first in even ones; medians are reported. Two Wharf ' +
      'instances (A and B) run as `npm start` runs them, each with its own data directory ' +
      '(embedded PGlite, filesystem storage) on 127.0.0.1. A ' +
      `${Math.round(r.imageBytes / 1e6)} MB OCI image (${r.layerCount} gzip layers of random content, made by ` +
      'test/fixtures/image-generator.ts) is pushed to A once with skopeo. Each round, Wharf replication ' +
      'gets a fresh project on B and a manual push policy on A (an endpoint of type `harbor` for B ' +
      "with B's admin credentials, `dest_namespace` the new project, `dest_namespace_replace_count` 1, " +
      'a name filter for the repository); the time runs from `POST /replication/executions` until ' +
      `\`GET /replication/executions/{id}\` (polled every ${POLL_MS} ms) says Succeed, so it includes ` +
      "planning (both sides' tags are read) and the job service's scheduling. skopeo copies " +
      '`docker://A/…` to a new repository of B with `--src-creds`/`--dest-creds` and TLS verification ' +
      `off, with an empty blob info cache for every copy (${r.isolation}), timed from process start to ` +
      'exit. Neither side can skip or mount a layer: every round goes to a repository of B that has never ' +
      'seen the image, and B shows blobs only to repositories that hold them, so every byte travels each ' +
      'time. Every copy is checked: the tag on B must point at the digest pushed to A. MB means 10^6 ' +
      'bytes. CPU seconds are read from /proc for the process trees of A and B and for skopeo. The ' +
      'machine may be shared with other work; the share of its CPU that other processes used is ' +
      'given above: the higher it is, the less the ratio means. Read the ratio, not the absolutes.',
    MARKERS.end,
  ];
  return lines.join('\n');
}
