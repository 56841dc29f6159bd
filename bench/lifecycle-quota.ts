import { randomBytes } from 'node:crypto';
import { runWorkers } from './blob-push.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, RegistryClient, sha256 } from './client.js';
import { startWharf } from './servers.js';

// Push throughput with quotas on against off (issue #12: at least 0.95x). One Wharf, two projects:
// one with a storage limit (every blob upload, mount and manifest PUT is checked against it and
// counted), one unlimited (-1). Rounds alternate which project goes first; each round pushes the
// same number of small images (a config, two layers, a manifest; all unique) to each at a fixed
// concurrency. The median of images per second per side and their ratio are reported.

export interface QuotaPushResult {
  rounds: number;
  imagesPerRound: number;
  layerBytes: number;
  onPerSecond: number[];
  offPerSecond: number[];
  ratio: number;
  /** The limited project's quota usage after the run (bytes), to show the quota really counted. */
  usedBytes: number;
}

const CONCURRENCY = 8;
const LIMIT_BYTES = 10 ** 12;

export const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function pushImages(
  client: RegistryClient,
  project: string,
  count: number,
  layerBytes: number,
): Promise<number> {
  let next = 0;
  const start = performance.now();
  await runWorkers(CONCURRENCY, async (failed) => {
    while (next < count && !failed()) {
      const i = next++;
      const repo = `${project}/app-${i % 4}`;
      const config = Buffer.from(
        JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }),
      );
      const layers = [randomBytes(layerBytes), randomBytes(layerBytes)];
      await client.pushBlobPostPut(repo, config, sha256(config));
      for (const layer of layers) await client.pushBlobPostPut(repo, layer, sha256(layer));
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: sha256(l), size: l.length })),
      });
      await client.putManifest(repo, `v${i}`, manifest);
    }
  });
  return count / ((performance.now() - start) / 1000);
}

async function createProject(
  url: string,
  authorization: string,
  name: string,
  storageLimit: number,
): Promise<void> {
  const res = await fetch(`${url}/api/v2.0/projects`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ project_name: name, storage_limit: storageLimit }),
  });
  if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${await res.text()}`);
}

/** The quota usage (bytes) of project `name`, read from GET /quotas. */
async function usedBytes(url: string, authorization: string, name: string): Promise<number> {
  const res = await fetch(`${url}/api/v2.0/quotas?page_size=100`, { headers: { authorization } });
  const quotas = (await res.json()) as Array<{ ref?: { name?: string }; used?: { storage?: number } }>;
  return quotas.find((q) => q.ref?.name === name)?.used?.storage ?? Number.NaN;
}

export async function measureQuotaPushes(
  rounds: number,
  imagesPerRound: number,
  layerBytes: number,
  log: (m: string) => void,
): Promise<QuotaPushResult> {
  const server = await startWharf('Wharf');
  try {
    const credentials = server.pushCredentials;
    if (!credentials) throw new Error('Wharf: no admin credentials');
    const authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    await createProject(server.url, authorization, 'quota-on', LIMIT_BYTES);
    await createProject(server.url, authorization, 'quota-off', -1);
    const client = new RegistryClient(server.url, credentials);
    // Warm-up: the first pushes of each side pay for connections and caches.
    await pushImages(client, 'quota-on', 20, layerBytes);
    await pushImages(client, 'quota-off', 20, layerBytes);
    const on: number[] = [];
    const off: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const side of order) {
        const rate = await pushImages(client, `quota-${side}`, imagesPerRound, layerBytes);
        (side === 'on' ? on : off).push(rate);
      }
      log(`round ${round + 1}: quota on ${on.at(-1)?.toFixed(1)}/s, off ${off.at(-1)?.toFixed(1)}/s`);
    }
    return {
      rounds,
      imagesPerRound,
      layerBytes,
      onPerSecond: on,
      offPerSecond: off,
      ratio: median(on) / median(off),
      usedBytes: await usedBytes(server.url, authorization, 'quota-on'),
    };
  } finally {
    await server.stop();
  }
}
