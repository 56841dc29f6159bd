import { randomBytes } from 'node:crypto';
import {
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  digestOf,
  imageManifest,
  type Descriptor,
} from './oci-client.js';

// The content of the GC race (gc-race.ts): a small pool of layers and configs that every image
// draws from, so that the same blobs are referenced, dereferenced, collected and pushed again by
// several clients in several repositories all the time. Each image's manifest carries a unique
// annotation, so that its digest names one push only: deleting it by digest deletes that push.

export interface PoolBlob {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface RaceImage {
  /** The manifest's digest and bytes. */
  digest: string;
  bytes: Buffer;
  /** Config first, then the layers. */
  blobs: PoolBlob[];
}

export interface BlobPool {
  layers: PoolBlob[];
  configs: PoolBlob[];
}

function poolBlob(mediaType: string, bytes: Buffer): PoolBlob {
  return { descriptor: { mediaType, digest: digestOf(bytes), size: bytes.length }, bytes };
}

/** `layers` random layers of a few KiB and `configs` configs, shared by every image of a race. */
export function createBlobPool(layers = 8, configs = 3): BlobPool {
  return {
    layers: Array.from({ length: layers }, (_, i) => poolBlob(OCI_LAYER, randomBytes(1024 + 512 * i))),
    configs: Array.from({ length: configs }, (_, i) =>
      poolBlob(OCI_CONFIG, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', pool: i }))),
    ),
  };
}

/** Picks `count` distinct elements with `random` (a function returning [0, 1)). */
export function pickDistinct<T>(items: readonly T[], count: number, random: () => number): T[] {
  const left = [...items];
  const picked: T[] = [];
  while (picked.length < count && left.length > 0) {
    picked.push(left.splice(Math.floor(random() * left.length), 1)[0] as T);
  }
  return picked;
}

/** An image of one pooled config and 1-3 pooled layers, unique by its `push` annotation. */
export function composeImage(pool: BlobPool, push: string, random: () => number): RaceImage {
  const config = pickDistinct(pool.configs, 1, random)[0] as PoolBlob;
  const layers = pickDistinct(pool.layers, 1 + Math.floor(random() * 3), random);
  const bytes = imageManifest({
    mediaType: OCI_MANIFEST,
    config: config.descriptor,
    layers: layers.map((layer) => layer.descriptor),
    annotations: { 'io.wharf.test.push': push },
  });
  return { digest: digestOf(bytes), bytes, blobs: [config, ...layers] };
}

/** A seeded generator (mulberry32), so that a failing race can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
