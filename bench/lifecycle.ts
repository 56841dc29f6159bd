import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeSection } from './doc-section.js';
import { measureGcAtScale, type GcScaleResult } from './lifecycle-gc.js';
import { measureQuotaPushes, median, type QuotaPushResult } from './lifecycle-quota.js';
import { describeMachine } from './report.js';
import { repoRoot } from './servers.js';

// `npm run bench:lifecycle`: the content lifecycle of issue #12. GC of a store of 100,000 blobs and
// 10,000 manifests (time, peak memory), and push throughput with a project quota on against off
// (at least 0.95x). Results go into their own section of docs/benchmarks.md.

const MARKERS = {
  start: '<!-- lifecycle: written by npm run bench:lifecycle -->',
  end: '<!-- lifecycle: end -->',
};

const USAGE = `usage: node bench/run.ts lifecycle [options]
  --only gc|quota      one of the two measurements (the doc is then not written)
  --layers N           layer blobs in the GC store (default 90000; + 10000 manifests + 1 config)
  --manifests N        manifests in the GC store (default 10000)
  --rounds N           quota rounds, sides alternating, median reported (default 5)
  --images N           images per side and round in the quota measurement (default 100)
  --no-doc             do not write docs/benchmarks.md`;

/** One line on the machine (see the Machine section above for the full description). */
function machineLine(): string {
  const m = describeMachine(repoRoot, {});
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(0)} GiB, ${m.storage}, Node.js ${m.node}.`;
}

const log = (message: string) =>
  console.error(`[lifecycle ${new Date().toISOString().slice(11, 19)}] ${message}`);

function gcSection(r: GcScaleResult): string[] {
  const survived = r.blobsAfter === r.expectedAfter ? 'as expected' : `EXPECTED ${r.expectedAfter}`;
  return [
    `GC of a store of ${r.blobsBefore.toLocaleString('en')} blobs (${r.shape.layers.toLocaleString('en')} layers, ` +
      `${r.shape.manifests.toLocaleString('en')} manifests in ${r.shape.repositories} repositories, one config), ` +
      `one manifest in ${r.shape.taggedEvery} tagged: one run with \`delete_untagged\`, 4 workers, started through ` +
      '`POST /api/v2.0/system/gc/schedule`, on PostgreSQL and filesystem storage.',
    '',
    '| Measure | Value |',
    '|---|---|',
    `| GC wall time (start request to Success) | ${r.gcSeconds.toFixed(1)} s |`,
    `| Wharf RSS before the run | ${r.rssBeforeMiB.toFixed(0)} MiB |`,
    `| Wharf peak RSS during the run (VmHWM, reset at start) | ${r.peakRssMiB.toFixed(0)} MiB |`,
    `| Blobs in storage after | ${r.blobsAfter.toLocaleString('en')} (${survived}) |`,
    `| The run's summary | ${r.summary} |`,
    `| Building the store (not measured) | ${r.buildSeconds.toFixed(0)} s |`,
  ];
}

function quotaSection(r: QuotaPushResult): string[] {
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  return [
    `Push throughput with quotas: ${r.rounds} rounds of ${r.imagesPerRound} images per side (config, two ` +
      `${r.layerBytes / 1024} KiB layers, manifest; all unique; 8 in flight), to a project with a storage ` +
      'limit and to an unlimited one (`storage_limit: -1`), on one Wharf (embedded database), sides alternating.',
    '',
    '| Side | Images/s per round | Median |',
    '|---|---|---|',
    `| Quota on | ${fmt(r.onPerSecond)} | ${median(r.onPerSecond).toFixed(1)} |`,
    `| Quota off | ${fmt(r.offPerSecond)} | ${median(r.offPerSecond).toFixed(1)} |`,
    '',
    `Ratio on / off: **${r.ratio.toFixed(3)}** (goal: at least 0.95). Usage counted on the limited project ` +
      `afterwards: ${(r.usedBytes / 2 ** 20).toFixed(1)} MiB.`,
  ];
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      layers: { type: 'string', default: '90000' },
      manifests: { type: 'string', default: '10000' },
      rounds: { type: 'string', default: '5' },
      images: { type: 'string', default: '100' },
      'no-doc': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || (values.only && values.only !== 'gc' && values.only !== 'quota')) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const startLoad = loadavg()[0] ?? 0;
  const started = Date.now();
  const shape = {
    layers: Number(values.layers),
    manifests: Number(values.manifests),
    repositories: 100,
    layersPerManifest: 5,
    taggedEvery: 5,
  };
  const gc = values.only === 'quota' ? undefined : await measureGcAtScale(shape, log);
  if (gc) log(`GC: ${gc.gcSeconds.toFixed(1)} s, peak ${gc.peakRssMiB.toFixed(0)} MiB; ${gc.summary}`);
  const quota =
    values.only === 'gc'
      ? undefined
      : await measureQuotaPushes(Number(values.rounds), Number(values.images), 64 * 1024, log);
  if (quota) log(`quota on/off ratio ${quota.ratio.toFixed(3)}`);
  if (values['no-doc'] || !gc || !quota) return 0;
  const section = [
    MARKERS.start,
    '## Content lifecycle: GC at scale, pushes with quotas',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:lifecycle\` in ` +
      `${((Date.now() - started) / 60_000).toFixed(0)} min; load average at start ${startLoad.toFixed(2)}. ` +
      `${machineLine()} The machine is shared with other work: figures are indicative.`,
    '',
    ...gcSection(gc),
    '',
    ...quotaSection(quota),
    '',
    'No side-by-side with docker-registry here: its `garbage-collect` is an offline command over its own ' +
      'storage layout, and it has no quotas.',
    MARKERS.end,
  ].join('\n');
  await writeSection(join(repoRoot, 'docs', 'benchmarks.md'), MARKERS, section);
  log('docs/benchmarks.md updated');
  return 0;
}
