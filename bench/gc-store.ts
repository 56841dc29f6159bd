import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Queryable } from '../src/metadata/database.js';
import { runWorkers } from './blob-push.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, sha256, type RegistryClient } from './client.js';
import { blobsTable, digests, repositoriesTable, storagePaths } from './dist-modules.js';

// The store the GC bench collects (bench/lifecycle.ts): `layers` small layer blobs and `manifests`
// image manifests over `repositories` repositories. Layers go straight into storage and the
// metadata layer (a commit as an upload makes it, without the HTTP round trips: 90,000 uploads
// would take longer than the collection they prepare); manifests go through the registry API, so
// that artifacts, tags and references are exactly what a push makes. Most of it is garbage:
// every layer beyond those the manifests use was never referenced, and only one manifest in
// `taggedEvery` is tagged, the rest are untagged artifacts that delete_untagged removes.

export interface StoreShape {
  layers: number;
  manifests: number;
  repositories: number;
  layersPerManifest: number;
  taggedEvery: number;
}

export interface BuiltStore {
  /** Blobs in storage: layers, the shared config and the manifests. */
  blobs: number;
  /** What must survive a GC with delete_untagged: the tagged manifests, their layers, the config. */
  survivors: number;
}

const LAYER_BYTES = 256;

function repositoryName(project: string, index: number): string {
  return `${project}/repo-${String(index).padStart(3, '0')}`;
}

interface Layer {
  digest: string;
  size: number;
}

/** Layer `index`: unique bytes, written to storage and committed to its repository. */
async function commitLayer(
  storageRoot: string,
  db: Queryable,
  repositoryId: number,
  bytes: Buffer,
): Promise<Layer> {
  const digest = sha256(bytes);
  const parsed = digests.parseDigest(digest);
  if (!parsed.ok) throw new Error(`bad digest ${digest}`);
  const path = join(storageRoot, storagePaths.blobKey(parsed.digest));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  await blobsTable.commitBlob(db, repositoryId, digest, bytes.length, null);
  return { digest, size: bytes.length };
}

/**
 * Fills the store. `db` is the server's database (shared, PostgreSQL), `storageRoot` its
 * filesystem storage root, `client` the registry the manifests are pushed to.
 */
export async function buildStore(
  shape: StoreShape,
  project: string,
  db: Queryable,
  storageRoot: string,
  client: RegistryClient,
  log: (message: string) => void,
): Promise<BuiltStore> {
  const repositoryIds: number[] = [];
  for (let r = 0; r < shape.repositories; r++) {
    repositoryIds.push((await repositoriesTable.ensureRepository(db, repositoryName(project, r))).id);
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', bench: 'gc' }));
  const configDigest = sha256(config);
  for (const [r] of repositoryIds.entries()) {
    await client.pushBlobPostPut(repositoryName(project, r), config, configDigest);
  }
  const seed = randomBytes(LAYER_BYTES - 8);
  const layers: Layer[] = new Array<Layer>(shape.layers);
  // A manifest's layers live in its repository: layer j belongs to manifest floor(j / perManifest).
  const repositoryOfLayer = (j: number) => Math.floor(j / shape.layersPerManifest) % shape.repositories;
  let next = 0;
  await runWorkers(16, async (failed) => {
    while (next < shape.layers && !failed()) {
      const j = next++;
      const bytes = Buffer.concat([seed, Buffer.alloc(8)]);
      bytes.writeBigUInt64BE(BigInt(j), LAYER_BYTES - 8);
      layers[j] = await commitLayer(storageRoot, db, repositoryIds[repositoryOfLayer(j)] as number, bytes);
      if (j > 0 && j % 10_000 === 0) log(`${j} layers committed`);
    }
  });
  log(`${shape.layers} layers committed; pushing ${shape.manifests} manifests`);
  await pushManifests(shape, project, client, layers, { digest: configDigest, size: config.length });
  const tagged = Math.ceil(shape.manifests / shape.taggedEvery);
  return {
    blobs: shape.layers + 1 + shape.manifests,
    survivors: tagged + tagged * shape.layersPerManifest + 1,
  };
}

async function pushManifests(
  shape: StoreShape,
  project: string,
  client: RegistryClient,
  layers: Layer[],
  config: Layer,
): Promise<void> {
  let next = 0;
  await runWorkers(8, async (failed) => {
    while (next < shape.manifests && !failed()) {
      const i = next++;
      const own = layers.slice(i * shape.layersPerManifest, (i + 1) * shape.layersPerManifest);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, ...config },
        layers: own.map((layer) => ({ mediaType: OCI_LAYER, ...layer })),
      });
      // Tagged or pushed by digest only (an untagged artifact).
      const reference = i % shape.taggedEvery === 0 ? `t${i}` : sha256(manifest);
      await client.putManifest(repositoryName(project, i % shape.repositories), reference, manifest);
    }
  });
}

/** Blobs in a filesystem store (files named data under blobs/), counted without reading them. */
export async function countStoredBlobs(storageRoot: string): Promise<number> {
  const entries = await readdir(join(storageRoot, 'blobs'), { recursive: true, withFileTypes: true }).catch(
    () => [],
  );
  return entries.filter((e) => e.isFile() && e.name === 'data').length;
}
