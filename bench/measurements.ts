import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ociReference } from '../test/fixtures/image-generator.js';
import { measureBigUpload, type BigUploadResult, type GeneratedBlob } from './big-upload.js';
import { measureBlobPushes, type BlobPushMode } from './blob-push.js';
import { OCI_MANIFEST, sha256, type RegistryClient } from './client.js';
import { headLoad, wrkGet, type ReadTarget } from './manifest-reads.js';
import type { Row } from './report.js';
import type { Server } from './servers.js';
import { chooseCacheIsolation, skopeoCopy } from './skopeo.js';

// The four measurements, each against every side: the subject (Wharf), the reference
// (docker-registry) and, optionally, a control (a second docker-registry, whose ratio to the first
// shows how far two identical servers drift apart in the same run). Each runs in rounds that rotate
// which side goes first, so that a burst of other load on the machine, or a warmer cache, does not
// always favour the same side; the median of the rounds is reported.

export interface Side {
  server: Server;
  /** Pushes (with the server's push credentials, if any). */
  client: RegistryClient;
  /** Whether manifests and blobs can be read without credentials. */
  anonymousReads: boolean;
}

/** Subject, reference and, optionally, control, in that order. */
export type Sides = readonly [Side, Side] | readonly [Side, Side, Side];

export interface Settings {
  rounds: number;
  concurrency: number;
  blobSize: number;
  blobCount: number;
  blobSeconds: number;
  readConnections: number;
  readSeconds: number;
  warmupSeconds: number;
  /** Makes a repository name that is new in this run. */
  repo: (purpose: string) => string;
  log: (message: string) => void;
  notes: string[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/** Calls `measure` for every side in every round, rotating who goes first; values per side. */
async function inRounds(
  sides: Sides,
  rounds: number,
  measure: (side: Side, round: number) => Promise<number>,
): Promise<number[][]> {
  const values: number[][] = sides.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    for (let k = 0; k < sides.length; k++) {
      const i = (round - 1 + k) % sides.length;
      values[i]?.push(await measure(sides[i] as Side, round));
    }
  }
  return values;
}

function row(
  metric: string,
  unit: string,
  values: number[][],
  better: 'higher' | 'lower',
  digits: number,
): Row {
  const [subject = [], reference = [], control] = values;
  return {
    metric,
    unit,
    subject: median(subject),
    reference: median(reference),
    ...(control ? { control: median(control) } : {}),
    better,
    digits,
  };
}

function listed(sides: Sides, values: number[][], digits: number): string {
  return sides
    .map((side, i) => `${side.server.label} ${(values[i] ?? []).map((v) => v.toFixed(digits)).join(', ')}`)
    .join('; ');
}

/** Pushes a small image, then reads its manifest without credentials: does that work? */
export async function probeAnonymousReads(side: Side, repo: string, tag: string): Promise<boolean> {
  await side.client.pushSmallImage(repo, tag);
  const res = await fetch(`${side.server.url}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: OCI_MANIFEST },
  });
  await res.body?.cancel();
  if (res.status === 200) return true;
  if (res.status === 401) return false;
  throw new Error(`${side.server.label}: anonymous GET of a pushed manifest answered ${res.status}`);
}

async function readTarget(side: Side, repo: string, tag: string): Promise<ReadTarget> {
  const path = `/v2/${repo}/manifests/${tag}`;
  const headers: Record<string, string> = { Accept: OCI_MANIFEST };
  if (!side.anonymousReads) {
    const auth = await side.client.authorization(`repository:${repo}:pull`, { method: 'GET', path });
    if (auth) headers.Authorization = auth;
  }
  return { url: side.server.url + path, headers };
}

/** The load counts statuses only, so first make sure a GET returns the manifest and a HEAD its head. */
async function checkManifestRead(side: Side, target: ReadTarget, repo: string): Promise<void> {
  const manifest = side.client.pushedManifests.get(`${repo}:bench`);
  const get = await fetch(target.url, { headers: target.headers });
  const body = await get.text();
  const head = await fetch(target.url, { method: 'HEAD', headers: target.headers });
  await head.body?.cancel();
  const problems = [
    get.status !== 200 && `GET answered ${get.status}`,
    body !== manifest && 'GET returned other bytes than were pushed',
    get.headers.get('content-type') !== OCI_MANIFEST && `GET Content-Type ${get.headers.get('content-type')}`,
    get.headers.get('docker-content-digest') !== sha256(body) &&
      'GET Docker-Content-Digest is not the digest',
    head.status !== 200 && `HEAD answered ${head.status}`,
    head.headers.get('content-length') !== String(Buffer.byteLength(body)) && 'HEAD Content-Length is wrong',
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`${side.server.label} ${target.url}: ${problems.join('; ')}`);
}

export async function manifestReads(sides: Sides, s: Settings): Promise<Row[]> {
  const repo = s.repo('manifest');
  const targets = new Map<Side, ReadTarget>();
  for (const side of sides) {
    side.anonymousReads = await probeAnonymousReads(side, repo, 'bench');
    if (!side.anonymousReads)
      s.notes.push(`${side.server.label} refused anonymous reads; its reads sent credentials.`);
    const target = await readTarget(side, repo, 'bench');
    targets.set(side, target);
    await checkManifestRead(side, target, repo);
    await wrkGet(target, { threads: 1, connections: s.readConnections, seconds: s.warmupSeconds });
    await headLoad(target, { connections: s.readConnections, seconds: s.warmupSeconds });
  }
  const load = { threads: 1, connections: s.readConnections, seconds: s.readSeconds };
  const get = await inRounds(sides, s.rounds, async (side, round) => {
    const r = await wrkGet(targets.get(side) as ReadTarget, load);
    s.log(`manifest GET round ${round} ${side.server.label}: ${r.perSecond.toFixed(0)} req/s`);
    return r.perSecond;
  });
  const head = await inRounds(sides, s.rounds, async (side, round) => {
    const r = await headLoad(targets.get(side) as ReadTarget, load);
    s.log(`manifest HEAD round ${round} ${side.server.label}: ${r.perSecond.toFixed(0)} req/s`);
    return r.perSecond;
  });
  s.notes.push(`Manifest GET req/s per round: ${listed(sides, get, 0)}. HEAD: ${listed(sides, head, 0)}.`);
  return [
    row(`manifest GET by tag (wrk, ${s.readConnections} connections)`, 'req/s', get, 'higher', 0),
    row(`manifest HEAD by tag (keep-alive client, ${s.readConnections} conn.)`, 'req/s', head, 'higher', 0),
  ];
}

export async function blobPushes(sides: Sides, s: Settings): Promise<Row[]> {
  const singlePost = new Map<Side, boolean>();
  for (const side of sides) {
    const probe = await side.client.supportsSinglePost(s.repo('probe'));
    singlePost.set(side, probe.supported);
    if (!probe.supported) {
      s.notes.push(
        `${side.server.label} does not complete a single-POST upload (POST ?digest= with the body ` +
          `answered ${probe.status}); its best monolithic push is POST + PUT.`,
      );
    }
  }
  const perRound = {
    blobSize: s.blobSize,
    concurrency: s.concurrency,
    maxCount: Math.ceil(s.blobCount / s.rounds),
    maxMs: (s.blobSeconds * 1000) / s.rounds,
  };
  const measure = (mode: BlobPushMode) => async (side: Side, round: number) => {
    const r = await measureBlobPushes(side.client, {
      ...perRound,
      repo: s.repo(`blobs-${mode}`),
      mode,
      warmup: round === 1 ? 2 * s.concurrency : 0,
    });
    s.log(`1 MiB ${mode} round ${round} ${side.server.label}: ${r.count} in ${r.seconds.toFixed(1)} s`);
    return r.perSecond;
  };
  const twoStep = await inRounds(sides, s.rounds, measure('post-put'));
  s.notes.push(`1 MiB POST + PUT pushes/s per round: ${listed(sides, twoStep, 0)}.`);
  const rows = [
    row(`1 MiB blob push, POST + PUT, ${s.concurrency} in flight`, 'push/s', twoStep, 'higher', 0),
  ];
  if ([...singlePost.values()].some(Boolean)) {
    const best = await inRounds(sides, s.rounds, async (side, round) =>
      singlePost.get(side) ? measure('single-post')(side, round) : NaN,
    );
    // A side without single POST keeps its POST + PUT figures.
    sides.forEach((side, i) => {
      if (!singlePost.get(side)) best[i] = twoStep[i] ?? [];
    });
    s.notes.push(`1 MiB pushes/s on the best monolithic path per round: ${listed(sides, best, 0)}.`);
    rows.push(
      row(`1 MiB blob push, best monolithic path, ${s.concurrency} in flight`, 'push/s', best, 'higher', 0),
    );
  }
  return rows;
}

export async function skopeoCopies(
  sides: Sides,
  s: Settings,
  image: { layout: string; bytes: number },
  workDir: string,
): Promise<Row[]> {
  const isolation = chooseCacheIsolation();
  const mb = image.bytes / 1e6;
  const push = await inRounds(sides, s.rounds, async (side, round) => {
    const seconds = await skopeoCopy(
      { ref: ociReference(image.layout, 'bench') },
      {
        ref: `docker://${side.server.host}/${s.repo(`skopeo-${round}`)}:bench`,
        credentials: side.server.pushCredentials,
      },
      isolation,
      workDir,
    );
    s.log(`skopeo push round ${round} ${side.server.label}: ${seconds.toFixed(2)} s`);
    return mb / seconds;
  });
  const pull = await inRounds(sides, s.rounds, async (side, round) => {
    const dest = join(workDir, `pull-${round}`);
    const seconds = await skopeoCopy(
      {
        ref: `docker://${side.server.host}/${s.repo(`skopeo-${round}`)}:bench`,
        credentials: side.anonymousReads ? undefined : side.server.pushCredentials,
      },
      { ref: ociReference(dest, 'bench') },
      isolation,
      workDir,
    );
    await rm(dest, { recursive: true, force: true });
    s.log(`skopeo pull round ${round} ${side.server.label}: ${seconds.toFixed(2)} s`);
    return mb / seconds;
  });
  s.notes.push(
    `skopeo blob info cache: ${isolation}, empty for every copy; every push went to a new repository. ` +
      `Push MB/s per round: ${listed(sides, push, 0)}. Pull: ${listed(sides, pull, 0)}.`,
  );
  const label = `${Math.round(mb)} MB image`;
  return [
    row(`skopeo push, ${label} (median of ${s.rounds})`, 'MB/s', push, 'higher', 1),
    row(`skopeo pull, ${label} (median of ${s.rounds})`, 'MB/s', pull, 'higher', 1),
  ];
}

export async function largeUpload(sides: Sides, s: Settings, blob: GeneratedBlob): Promise<Row[]> {
  const results: BigUploadResult[] = [];
  for (const side of sides) {
    const r = await measureBigUpload(side.client, side.server.pid, s.repo('large'), blob);
    s.log(
      `${blob.bytes / 2 ** 20} MiB upload ${side.server.label}: ${r.seconds.toFixed(1)} s, ` +
        `RSS ${r.baselineMB.toFixed(0)} MB before, peak ${r.peakMB.toFixed(0)} MB`,
    );
    results.push(r);
  }
  const growth = sides.map((side, i) => {
    const r = results[i] as BigUploadResult;
    const tree = r.processes > 1 ? `, a tree of ${r.processes} processes` : '';
    return `${(r.peakMB - r.baselineMB).toFixed(0)} MB (${side.server.label}${tree})`;
  });
  s.notes.push(`Resident memory grew during the large upload by ${growth.join(', ')}.`);
  const size =
    blob.bytes % 2 ** 30 === 0 ? `${blob.bytes / 2 ** 30} GiB` : `${(blob.bytes / 2 ** 20).toFixed(0)} MiB`;
  const each = (pick: (r: BigUploadResult) => number) => results.map((r) => [pick(r)]);
  return [
    row(
      `peak RSS during a ${size} streamed upload`,
      'MB',
      each((r) => r.peakMB),
      'lower',
      0,
    ),
    row(
      'RSS just before it (after the other measurements)',
      'MB',
      each((r) => r.baselineMB),
      'lower',
      0,
    ),
    row(
      `${size} monolithic PUT, one stream`,
      'MB/s',
      each((r) => r.megabytesPerSecond),
      'higher',
      1,
    ),
  ];
}
