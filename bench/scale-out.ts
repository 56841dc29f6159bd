import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDockerRegistry, type DockerRegistryHandle } from '../test/helpers/docker-registry.js';
import { startNginx, type LoadBalancer } from '../test/helpers/load-balancer.js';
import { startPostgres, type PostgresServer } from '../test/helpers/postgres.js';
import { startRedis } from '../test/helpers/redis.js';
import { OCI_MANIFEST, RegistryClient, sha256 } from './client.js';
import { writeSection } from './doc-section.js';
import { wrkGet, type ReadTarget } from './manifest-reads.js';
import { repoRoot, startWharf, type Server } from './servers.js';

// `npm run bench:scale-out`: what a second instance behind nginx adds. Wharf as a cluster (shared
// PostgreSQL, Redis, storage directory, token key) behind the project's nginx sample with one
// instance and with two; Debian's docker-registry the same way (two processes on one storage
// directory) in the same run, as the reference. Manifest GET by tag and blob GET throughput, with
// wrk, in rounds that rotate the order; medians and ratios go into docs/benchmarks.md.

const MARKERS = {
  start: '<!-- scale-out: written by npm run bench:scale-out -->',
  end: '<!-- scale-out: end -->',
};
const TIME_BUDGET_MINUTES = 20;
const MANIFEST_CONNECTIONS = 8;
const BLOB_CONNECTIONS = 4;

interface Target {
  label: string;
  lb: LoadBalancer;
  manifest: ReadTarget;
  blob: ReadTarget;
}

const log = (message: string) => console.error(`[scale-out] ${message}`);
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '5' },
      'blob-mb': { type: 'string', default: '16' },
      'no-doc': { type: 'boolean', default: false },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const blobBytes = Number(values['blob-mb']) * 2 ** 20;
  const started = performance.now();
  const work = await mkdtemp(join(tmpdir(), 'wharf-scale-out-'));
  const stops: Array<() => Promise<void>> = [];
  const watchdog = setTimeout(() => {
    log(`aborted: longer than ${TIME_BUDGET_MINUTES} minutes`);
    void Promise.allSettled(stops.map((s) => s())).finally(() => process.exit(1));
  }, TIME_BUDGET_MINUTES * 60_000);
  watchdog.unref();
  try {
    log('starting PostgreSQL and Redis');
    const pg: PostgresServer = await startPostgres();
    stops.push(() => pg.stop());
    const redis = await startRedis();
    stops.push(() => redis.dispose());
    const databaseUrl = await pg.createDatabase();
    // Pushes go to the first instance directly and reads are anonymous, so no token has to be
    // valid on both instances: they need no shared signing key here.
    const password = randomBytes(18).toString('base64url');
    const wharfs: Server[] = [];
    for (const name of ['wharf-1', 'wharf-2']) {
      const server = await startWharf(name, {
        adminPassword: password,
        extraConfig: [
          'database:',
          `  url: "${databaseUrl}"`,
          'redis:',
          `  url: "${redis.url}"`,
          'storage:',
          '  filesystem:',
          `    root: ${join(work, 'wharf-storage')}`,
          'cluster:',
          `  instance_name: ${name}`,
        ],
      });
      stops.push(() => server.stop());
      wharfs.push(server);
    }
    const registries: DockerRegistryHandle[] = [];
    const registryRoot = join(work, 'registry-storage');
    for (let i = 0; i < 2; i++) {
      const handle = await startDockerRegistry({ rootDir: registryRoot });
      stops.push(() => handle.stop());
      registries.push(handle);
    }
    const backend = (url: string) => ({ host: '127.0.0.1', port: Number(new URL(url).port) });
    const lbs: Array<[string, LoadBalancer]> = [];
    for (const [label, urls] of [
      ['Wharf, 1 instance', [wharfs[0]?.url as string]],
      ['Wharf, 2 instances', wharfs.map((w) => w.url)],
      ['docker-registry, 1 instance', [registries[0]?.url as string]],
      ['docker-registry, 2 instances', registries.map((r) => r.url)],
    ] as const) {
      const lb = await startNginx(urls.map(backend));
      stops.push(() => lb.stop());
      lbs.push([label, lb]);
    }

    log('pushing the test image and blob');
    const repo = 'library/scale-out';
    const blob = randomBytes(blobBytes);
    const blobDigest = sha256(blob);
    const wharfClient = new RegistryClient(wharfs[0]?.url as string, { username: 'admin', password });
    const registryClient = new RegistryClient(registries[0]?.url as string, undefined);
    for (const client of [wharfClient, registryClient]) {
      await client.pushSmallImage(repo, 'bench');
      await client.pushBlobPostPut(repo, blob, blobDigest);
    }
    const targets: Target[] = lbs.map(([label, lb]) => ({
      label,
      lb,
      manifest: { url: `${lb.url}/v2/${repo}/manifests/bench`, headers: { accept: OCI_MANIFEST } },
      blob: { url: `${lb.url}/v2/${repo}/blobs/${blobDigest}`, headers: {} },
    }));
    for (const t of targets) {
      for (const read of [t.manifest, t.blob]) {
        const res = await fetch(read.url, { headers: read.headers });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${t.label}: GET ${read.url} answered ${res.status}`);
      }
      await wrkGet(t.manifest, { threads: 1, connections: MANIFEST_CONNECTIONS, seconds: 2 });
    }

    const manifestRates = new Map<string, number[]>();
    const blobRates = new Map<string, number[]>();
    for (let round = 0; round < rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length] as Target);
      for (const t of order) {
        const m = await wrkGet(t.manifest, { threads: 1, connections: MANIFEST_CONNECTIONS, seconds });
        const b = await wrkGet(t.blob, { threads: 1, connections: BLOB_CONNECTIONS, seconds });
        manifestRates.set(t.label, [...(manifestRates.get(t.label) ?? []), m.perSecond]);
        blobRates.set(t.label, [...(blobRates.get(t.label) ?? []), (b.perSecond * blobBytes) / 1e6]);
        log(
          `round ${round + 1} ${t.label}: ${m.perSecond.toFixed(0)} manifest GET/s, ${((b.perSecond * blobBytes) / 1e6).toFixed(0)} MB/s blob GET`,
        );
      }
    }
    for (const w of wharfs) {
      const metrics = await (await fetch(`${w.url}/metrics`)).text();
      log(
        `${w.label} lookups: ${metrics
          .split('\n')
          .filter((l) => l.startsWith('wharf_lookup_cache_total'))
          .join(', ')}`,
      );
    }
    const spread = new Map<string, number>();
    for (const t of targets) {
      // Answered requests only: those wrk cut off at the end of a run name no instance.
      const answered = (await t.lb.accessLog()).filter((e) => e.status === 200);
      const instances = new Set(answered.map((e) => e.instance || e.upstream));
      spread.set(t.label, instances.size);
    }
    const section = report({
      rounds,
      seconds,
      blobBytes,
      manifest: manifestRates,
      blob: blobRates,
      spread,
      durationSeconds: (performance.now() - started) / 1000,
    });
    console.log(section);
    if (!values['no-doc']) {
      const path = join(repoRoot, 'docs', 'benchmarks.md');
      await writeSection(path, MARKERS, section);
      log(`wrote the scale-out section of ${path}`);
    }
    return 0;
  } catch (err) {
    console.error(
      `scale-out bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    return 1;
  } finally {
    clearTimeout(watchdog);
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

interface ReportInput {
  rounds: number;
  seconds: number;
  blobBytes: number;
  manifest: Map<string, number[]>;
  blob: Map<string, number[]>;
  spread: Map<string, number>;
  durationSeconds: number;
}

function report(r: ReportInput): string {
  const m = (label: string) => median(r.manifest.get(label) ?? [NaN]);
  const b = (label: string) => median(r.blob.get(label) ?? [NaN]);
  const fmt = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
  const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}×`;
  const rows = [
    ['manifest GET by tag, req/s', m, fmt],
    ['blob GET, MB/s', b, fmt],
  ] as const;
  const lines = [
    MARKERS.start,
    '## Scale-out: one instance versus two behind nginx',
    '',
    `Run on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:scale-out\`, taking ${Math.round(r.durationSeconds)} s.`,
    '',
    '| measurement | Wharf, 1 | Wharf, 2 | Wharf 2 / 1 | docker-registry, 1 | docker-registry, 2 | docker-registry 2 / 1 | Wharf / docker-registry, 2 instances |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(([name, get, f]) => {
      const w1 = get('Wharf, 1 instance');
      const w2 = get('Wharf, 2 instances');
      const d1 = get('docker-registry, 1 instance');
      const d2 = get('docker-registry, 2 instances');
      return `| ${name} | ${f(w1)} | ${f(w2)} | ${ratio(w2, w1)} | ${f(d1)} | ${f(d2)} | ${ratio(d2, d1)} | ${ratio(w2, d2)} |`;
    }),
    '',
    `Per round (manifest GET/s; blob MB/s): ${[...r.manifest.keys()]
      .map(
        (label) =>
          `${label}: ${(r.manifest.get(label) ?? []).map(fmt).join(', ')}; ${(r.blob.get(label) ?? []).map(fmt).join(', ')}`,
      )
      .join('. ')}. Instances that served requests, from nginx's access log: ${[...r.spread]
      .map(([label, n]) => `${label} ${n}`)
      .join(', ')}.`,
    '',
    "How measured: the Wharf instances share one PostgreSQL (the test harness's, on loopback), one " +
      'Redis, and one storage directory, as in a cluster; each runs with ' +
      '`audit.log_pulls: false` and anonymous pulls, as in the main bench. The two docker-registry ' +
      'processes share one filesystem root. Each side sits behind its own nginx started from ' +
      '`deploy/nginx/wharf.conf` (round-robin, keep-alive to the upstreams, no buffering). wrk with ' +
      `one thread reads the manifest by tag over ${MANIFEST_CONNECTIONS} connections and a ` +
      `${r.blobBytes / 2 ** 20} MiB blob over ${BLOB_CONNECTIONS} connections, ${r.seconds} s each, in ` +
      `${r.rounds} rounds that rotate the order; medians are reported. This machine has 2 cores, ` +
      'shared by wrk, nginx, PostgreSQL and the registries: a second instance can only use what the ' +
      'first leaves idle, so the 2 / 1 ratios here say whether adding an instance costs or gains on ' +
      'a saturated machine, not what it gains on separate hosts.',
    MARKERS.end,
  ];
  return lines.join('\n');
}
