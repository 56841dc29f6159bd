import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../test/helpers/postgres.js';
import type { Backends } from '../src/wharf.js';
import { RegistryClient } from './client.js';
import { configSchema, wharf } from './dist-modules.js';
import { buildStore, countStoredBlobs, type StoreShape } from './gc-store.js';
import { startWharf } from './servers.js';

// GC at scale (issue #12): a store of 100,000 blobs and 10,000 manifests, mostly garbage, collected
// by one GC run (delete_untagged, started through Harbor's API) on a Wharf process with PostgreSQL
// and filesystem storage. Measured: the run's wall time and the Wharf process's peak resident
// memory during it (the kernel's high-water mark, reset just before the run), and what was freed.

export interface GcScaleResult {
  shape: StoreShape;
  blobsBefore: number;
  blobsAfter: number;
  expectedAfter: number;
  buildSeconds: number;
  gcSeconds: number;
  rssBeforeMiB: number;
  peakRssMiB: number;
  summary: string;
}

const POLL_MS = 100;

/** Opens the server's database and storage in the bench process, as Wharf opens them. */
async function openStore(dataDir: string, databaseUrl: string, storageRoot: string): Promise<Backends> {
  const config = configSchema.configSchema.parse({
    data_dir: dataDir,
    database: { url: databaseUrl },
    storage: { filesystem: { root: storageRoot } },
  });
  return wharf.openBackends(config);
}

function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? Number.NaN) / 1024;
}

async function api(url: string, authorization: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}/api/v2.0${path}`, {
    method,
    headers: { authorization, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  return { status: res.status, text, location: res.headers.get('location') };
}

/** Starts the run and waits for its end, polling; returns its seconds and the last log line. */
async function collect(url: string, authorization: string): Promise<{ seconds: number; summary: string }> {
  const start = performance.now();
  const kicked = await api(url, authorization, 'POST', '/system/gc/schedule', {
    schedule: { type: 'Manual' },
    parameters: { delete_untagged: true, dry_run: false, workers: 4 },
  });
  if (kicked.status !== 201) throw new Error(`starting GC: ${kicked.status} ${kicked.text}`);
  const id = kicked.location?.split('/').pop() ?? '';
  for (;;) {
    const run = await api(url, authorization, 'GET', `/system/gc/${id}`);
    const status = (JSON.parse(run.text) as { job_status: string }).job_status;
    if (status === 'Success' || status === 'Error' || status === 'Stopped') {
      const seconds = (performance.now() - start) / 1000;
      const log = (await api(url, authorization, 'GET', `/system/gc/${id}/log`)).text.trim().split('\n');
      if (status !== 'Success') throw new Error(`GC ended ${status}:\n${log.slice(-20).join('\n')}`);
      return { seconds, summary: (log.at(-1) ?? '').replace(/^\S+ /, '') };
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export async function measureGcAtScale(shape: StoreShape, log: (m: string) => void): Promise<GcScaleResult> {
  const pg = await startPostgres();
  const base = await mkdtemp(join(tmpdir(), 'wharf-bench-gc-'));
  const storageRoot = join(base, 'storage');
  try {
    const databaseUrl = await pg.createDatabase();
    const server = await startWharf('Wharf', {
      extraConfig: [
        'database:',
        `  url: "${databaseUrl}"`,
        'storage:',
        '  filesystem:',
        `    root: ${storageRoot}`,
        'gc:',
        '  grace_period_minutes: 0',
      ],
    });
    try {
      const credentials = server.pushCredentials;
      if (!credentials) throw new Error('Wharf: no admin credentials');
      const authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
      const created = await api(server.url, authorization, 'POST', '/projects', { project_name: 'gcbench' });
      if (created.status !== 201) throw new Error(`creating the project: ${created.status} ${created.text}`);
      const client = new RegistryClient(server.url, credentials);
      const buildStart = performance.now();
      const backends = await openStore(join(base, 'inspect'), databaseUrl, storageRoot);
      const built = await buildStore(shape, 'gcbench', backends.db, storageRoot, client, log).finally(() =>
        backends.close(),
      );
      const buildSeconds = (performance.now() - buildStart) / 1000;
      const blobsBefore = await countStoredBlobs(storageRoot);
      log(`store built in ${buildSeconds.toFixed(0)} s: ${blobsBefore} blobs; collecting`);
      // Resets the process's peak RSS (VmHWM) to its current RSS, so the peak is the run's.
      await writeFile(`/proc/${server.pid}/clear_refs`, '5');
      const rssBeforeMiB = statusMiB(server.pid, 'VmRSS');
      const { seconds, summary } = await collect(server.url, authorization);
      const peakRssMiB = statusMiB(server.pid, 'VmHWM');
      const blobsAfter = await countStoredBlobs(storageRoot);
      return {
        shape,
        blobsBefore,
        blobsAfter,
        expectedAfter: built.survivors,
        buildSeconds,
        gcSeconds: seconds,
        rssBeforeMiB,
        peakRssMiB,
        summary,
      };
    } finally {
      await server.stop();
    }
  } finally {
    await pg.stop();
    await rm(base, { recursive: true, force: true });
  }
}
