import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateImage, presets } from '../test/fixtures/image-generator.js';
import { BackgroundLoad } from './background.js';
import { GeneratedBlob } from './big-upload.js';
import { RegistryClient } from './client.js';
import {
  blobPushes,
  largeUpload,
  manifestReads,
  probeAnonymousReads,
  skopeoCopies,
  type Settings,
  type Side,
  type Sides,
} from './measurements.js';
import { describeMachine, markdown, textTable, type Row } from './report.js';
import { dockerRegistryVersion, repoRoot, startServer, type ServerKind } from './servers.js';
import { skopeoVersion } from './skopeo.js';

// `npm run bench`: Wharf (the subject) and Debian's docker-registry (the reference) side by side in
// one run, with the same clients, the measurements interleaved, reported as ratios.

const MEASUREMENTS = ['reads', 'blobs', 'skopeo', 'memory'] as const;
type Measurement = (typeof MEASUREMENTS)[number];

const USAGE = `usage: node bench/run.ts [options]
  --subject wharf|docker-registry  what to compare with docker-registry (default wharf);
                                   docker-registry checks the harness against itself
  --only LIST                      a comma-separated subset of ${MEASUREMENTS.join(',')}
                                   (the doc is then not written)
  --rounds N                       rounds per measurement, sides rotating, median reported (default 5)
  --image-mb N                     size of the skopeo test image in MB (default 300)
  --big-mb N                       size of the streamed blob for the memory measurement in MiB (default 2048)
  --blob-count N                   at most N blob pushes per side and protocol, all rounds (default 2000)
  --blob-seconds N                 at most N seconds of them per side and protocol, all rounds (default 20)
  --read-seconds N                 seconds of manifest GET or HEAD load per side and round (default 3)
  --no-control                     no second docker-registry as a control of the noise
  --no-doc                         do not write docs/benchmarks.md`;

interface Options {
  subject: ServerKind;
  only: Set<Measurement>;
  rounds: number;
  imageBytes: number;
  bigBytes: number;
  blobCount: number;
  blobSeconds: number;
  readSeconds: number;
  control: boolean;
  writeDoc: boolean;
}

/** Manifest reads: enough connections to keep a server busy, few enough for a 2-core machine. */
const READ_CONNECTIONS = 8;
/** Blob pushes in flight. */
const CONCURRENCY = 10;
const BLOB_SIZE = 1 << 20;
const WARMUP_SECONDS = 2;
/** The whole run, defaults and all, takes a few minutes; past this something hangs. */
const TIME_BUDGET_MINUTES = 30;
const CONTROL_LABEL = 'docker-registry #2';

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      subject: { type: 'string', default: 'wharf' },
      only: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      'image-mb': { type: 'string', default: '300' },
      'big-mb': { type: 'string', default: '2048' },
      'blob-count': { type: 'string', default: '2000' },
      'blob-seconds': { type: 'string', default: '20' },
      'read-seconds': { type: 'string', default: '3' },
      'no-control': { type: 'boolean', default: false },
      'no-doc': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${name} must be a positive number, not ${text}\n${USAGE}`);
    return n;
  };
  if (values.subject !== 'wharf' && values.subject !== 'docker-registry') {
    throw new Error(`--subject must be wharf or docker-registry\n${USAGE}`);
  }
  const only = new Set<Measurement>();
  for (const name of values.only?.split(',') ?? MEASUREMENTS) {
    if (!(MEASUREMENTS as readonly string[]).includes(name))
      throw new Error(`unknown measurement ${name}\n${USAGE}`);
    only.add(name as Measurement);
  }
  return {
    subject: values.subject,
    only,
    rounds: Math.round(positive('rounds', values.rounds)),
    imageBytes: Math.round(positive('image-mb', values['image-mb']) * 1e6),
    bigBytes: Math.round(positive('big-mb', values['big-mb']) * 2 ** 20),
    blobCount: Math.round(positive('blob-count', values['blob-count'])),
    blobSeconds: positive('blob-seconds', values['blob-seconds']),
    readSeconds: Math.round(positive('read-seconds', values['read-seconds'])),
    control: !values['no-control'],
    writeDoc: !values['no-doc'] && only.size === MEASUREMENTS.length,
  };
}

/** wrk prints its version within the usage text ("wrk debian/4.1.0-3+b2 [epoll] ...") and exits 1. */
function wrkVersion(): string {
  const first = spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  return /^wrk (\S+)/.exec(first)?.[1] ?? first.trim();
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function requireTools(names: string[]): void {
  for (const name of names) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`the bench needs ${name} on PATH`);
    }
  }
}

const MEASUREMENT_NAMES: Record<Measurement, string> = {
  reads: 'manifest reads',
  blobs: '1 MiB blob pushes',
  skopeo: 'skopeo copies',
  memory: 'the large upload',
};

/**
 * Measurements made by hand (not by this harness) live in docs/benchmarks.md below this marker
 * and survive every rewrite of the generated part above it.
 */
const KEPT_MARKER = '<!-- measured by hand: kept by npm run bench -->';

async function keptSection(path: string): Promise<string> {
  const previous = await readFile(path, 'utf8').catch(() => '');
  const at = previous.indexOf(KEPT_MARKER);
  return at < 0 ? '' : `\n${previous.slice(at)}`;
}

export async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) {
    console.error(`the bench runs on Node 24 (this is ${process.version}): use npm run bench`);
    return 2;
  }
  const started = performance.now();
  const startLoad = loadavg()[0] ?? 0;
  const workDir = await mkdtemp(join(tmpdir(), 'wharf-bench-work-'));
  const sides: Side[] = [];
  const cleanUp = async () => {
    await Promise.allSettled(sides.map((side) => side.server.stop()));
    await rm(workDir, { recursive: true, force: true });
  };
  // Whatever hangs, the run ends: after the time budget, or on Ctrl-C, with the servers stopped.
  const abort = (reason: string) => {
    console.error(`bench aborted: ${reason}`);
    void cleanUp().finally(() => process.exit(1));
  };
  const watchdog = setTimeout(
    () => abort(`it ran longer than ${TIME_BUDGET_MINUTES} minutes`),
    TIME_BUDGET_MINUTES * 60_000,
  );
  watchdog.unref();
  const onSignal = (signal: string) => abort(`${signal} received`);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    requireTools(['docker-registry', 'skopeo', 'wrk']);
    const runId = randomBytes(3).toString('hex');
    const notes: string[] = [];
    const settings: Settings = {
      rounds: options.rounds,
      concurrency: CONCURRENCY,
      blobSize: BLOB_SIZE,
      blobCount: options.blobCount,
      blobSeconds: options.blobSeconds,
      readConnections: READ_CONNECTIONS,
      readSeconds: options.readSeconds,
      warmupSeconds: WARMUP_SECONDS,
      repo: (purpose) => `library/bench-${runId}-${purpose}`,
      log,
      notes,
    };

    // CPU-heavy preparation first, while no server runs.
    let image: { layout: string; bytes: number } | undefined;
    if (options.only.has('skopeo')) image = await prepareImage(workDir, options.imageBytes);
    let bigBlob: GeneratedBlob | undefined;
    if (options.only.has('memory')) {
      log(`hashing the ${options.bigBytes / 2 ** 20} MiB generated blob`);
      bigBlob = new GeneratedBlob(options.bigBytes);
      bigBlob.digest();
    }

    const labels: Array<[ServerKind, string]> =
      options.subject === 'wharf'
        ? [
            ['wharf', 'Wharf'],
            ['docker-registry', 'docker-registry'],
          ]
        : [
            ['docker-registry', 'docker-registry A'],
            ['docker-registry', 'docker-registry B'],
          ];
    // With Wharf as the subject, a second docker-registry measures how far two identical servers
    // drift apart in the same run; with docker-registry as the subject the whole run is that check.
    if (options.control && options.subject === 'wharf') labels.push(['docker-registry', CONTROL_LABEL]);
    for (const [kind, label] of labels) {
      log(`starting ${label}`);
      const server = await startServer(kind, label);
      sides.push({
        server,
        client: new RegistryClient(server.url, server.pushCredentials),
        anonymousReads: false,
      });
      log(`${label} ${server.version} listens on ${server.host}, pid ${server.pid}`);
    }
    const [first, second, third] = sides as [Side, Side, Side | undefined];
    const all: Sides = third ? [first, second, third] : [first, second];
    for (const side of all)
      side.anonymousReads = await probeAnonymousReads(side, settings.repo('probe'), 'probe');

    const background = new BackgroundLoad(all.map((side) => side.server.pid));
    const rows: Row[] = [];
    const run = async (name: Measurement, work: () => Promise<Row[]>) => {
      if (!options.only.has(name)) return;
      rows.push(...(await background.during(MEASUREMENT_NAMES[name], work)));
    };
    await run('reads', () => manifestReads(all, settings));
    await run('blobs', () => blobPushes(all, settings));
    if (image) await run('skopeo', () => skopeoCopies(all, settings, image, workDir));
    if (bigBlob) await run('memory', () => largeUpload(all, settings, bigBlob));

    const shares = [...background.summary()].map(
      ([name, share]) => `${(share * 100).toFixed(0)}% during ${name}`,
    );
    notes.push(
      'Share of the CPU time of the machine used by other processes (not the registries, not the bench ' +
        `and its clients): ${shares.join(', ')}; the 1-minute load average was ${startLoad.toFixed(1)} ` +
        'at the start.',
    );
    const subjectName = all[0].server.label;
    const referenceName = all[1].server.label;
    const controlName = all[2]?.server.label;
    console.log('');
    if (options.subject !== 'wharf') {
      console.log(
        'NOTE: both sides are docker-registry (--subject docker-registry): a check of the harness.',
      );
    }
    console.log(textTable(rows, subjectName, referenceName, controlName));
    for (const note of notes) console.log(`- ${note}`);
    console.log('');

    if (options.writeDoc) {
      const doc = markdown({
        date: new Date(),
        machine: describeMachine(workDir, {
          skopeo: skopeoVersion(),
          wrk: wrkVersion(),
        }),
        subject: { label: subjectName, version: all[0].server.version, kind: options.subject },
        reference: { label: referenceName, version: dockerRegistryVersion() },
        control: controlName,
        rows,
        notes,
        howMeasured: howMeasured(options, controlName !== undefined),
        durationSeconds: (performance.now() - started) / 1000,
      });
      const path = join(repoRoot, 'docs', 'benchmarks.md');
      await writeFile(path, doc + (await keptSection(path)));
      log(`wrote ${path}`);
    } else {
      log('docs/benchmarks.md not written (partial run or --no-doc)');
    }
    return 0;
  } catch (err) {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp();
    log(`done in ${Math.round((performance.now() - started) / 1000)} s`);
  }
}

async function prepareImage(workDir: string, bytes: number): Promise<{ layout: string; bytes: number }> {
  const layout = join(workDir, 'image');
  log(`generating a ${bytes / 1e6} MB OCI image layout with test/fixtures/image-generator.ts`);
  const spec = presets.large({ tag: 'bench', totalBytes: bytes, layerCount: 5, seed: 'bench' });
  // Random content does not compress; the fastest gzip level saves time and changes no size.
  const image = await generateImage(layout, { ...spec, gzipLevel: 1 });
  return { layout, bytes: image.totalSize };
}

function howMeasured(options: Options, control: boolean): string[] {
  const imageMb = Math.round(options.imageBytes / 1e6);
  const bigMiB = options.bigBytes / 2 ** 20;
  const rounds = options.rounds;
  return [
    'The registries run at the same time on 127.0.0.1, each with its own data directory on the same ' +
      'filesystem, and every measurement runs against one after the other with the same client. ' +
      (control
        ? 'Beside Wharf and docker-registry runs a second docker-registry, the control, measured in ' +
          'the same way: its ratio to the first shows the noise of this run. '
        : '') +
      `Each measurement but the last runs in ${rounds} rounds that rotate which side goes first, ` +
      'and the median of the rounds is reported (the rounds are listed in the notes). ' +
      "docker-registry is Debian's CNCF distribution with the filesystem driver, an in-memory blob " +
      'descriptor cache and no auth. Wharf runs as `npm start` runs it (`node --liftoff-only`) with its embedded defaults (PGlite, filesystem storage) ' +
      'and `auth.anonymous_pull: true` and `audit.log_pulls: false` (docker-registry keeps no audit log; ' +
      'with pull auditing on, every manifest GET also becomes an audit row, written in batches: on this ' +
      'machine that costs about a quarter of the manifest GET rate and some 50 MB of embedded-database ' +
      'memory under this load); pushes to it carry the credentials of its admin user (HTTP Basic, ' +
      'or the token its challenge asks for), reads go without credentials. MB means 10^6 bytes.',
    `**Manifest GET and HEAD.** A small OCI image is pushed to each side and its manifest read by tag ` +
      `with an OCI Accept header over ${READ_CONNECTIONS} keep-alive connections, one request in flight ` +
      `each, for ${options.readSeconds} s per side and round after a ${WARMUP_SECONDS} s warm-up. GET ` +
      'uses wrk with one thread. wrk 4.1 cannot do HEAD (it waits for the body that the Content-Length ' +
      "of a HEAD response announces), so HEAD uses the bench's own client, which writes a fixed request " +
      'and reads only the response head; it runs in the single-threaded bench process. Any response ' +
      'but 200, or any socket error, fails the run. The load generator shares the cores with the ' +
      'server; docker-registry (Go) can use every core and Node mostly one, so these ratios are of ' +
      'this whole setup on this machine, not of a server with cores to itself.',
    `**1 MiB blob pushes.** A Node client (fetch) keeps ${CONCURRENCY} pushes in flight, each of a ` +
      `distinct 1 MiB blob, for at most ${options.blobCount} pushes or ${options.blobSeconds} s per ` +
      `side, split evenly over the rounds, after ${2 * CONCURRENCY} warm-up pushes. "POST + PUT" opens ` +
      'a session with POST and sends the body with PUT ?digest=, which every registry supports; "best ' +
      'monolithic path" sends a single POST ?digest= with the body where the registry completes it ' +
      '(201) and POST + PUT elsewhere. The client hashes almost nothing: the blobs share a prefix whose ' +
      'hash state is copied and finished with a unique 32-byte tail.',
    `**skopeo push and pull.** A ${imageMb} MB OCI image layout (5 gzip layers of random content, made ` +
      'by test/fixtures/image-generator.ts) is copied with `skopeo copy` from the layout to a new ' +
      'repository of each side, then from there into a new, empty layout that is deleted afterwards. ' +
      'The time is that of the whole skopeo process; MB/s is the image size over that time. skopeo gets ' +
      'an empty blob info cache for every copy, so it can neither skip nor mount a layer it saw before: ' +
      'every push uploads every byte.',
    `**Memory during a large upload.** A ${bigMiB} MiB blob is generated on the fly (one random 1 MiB ` +
      'block, each copy stamped with its index; the digest is computed beforehand) and streamed in one ' +
      'monolithic PUT with Content-Length, after a POST for the session; once per side. Just before, ' +
      "the peak resident set of the server's processes is reset (`/proc/PID/clear_refs` = 5); right " +
      'after, VmHWM is read, and the VmRSS of the process tree is sampled every 20 ms meanwhile; the ' +
      'larger is reported. The blob is then checked with HEAD. The MB/s of that PUT is reported too.',
    '**Background load.** The machine may run other work. The bench subtracts the CPU time of the two ' +
      'registries, of itself and of the clients it ran from that of the whole machine (/proc/stat) and ' +
      'reports what is left per measurement in the notes: the higher it is, the less the ratios mean.',
    'Reproduce with `npm run bench` (builds Wharf first); `node bench/run.ts --help` lists the knobs, ' +
      'and `--subject docker-registry` checks the harness with docker-registry on both sides.',
  ];
}
