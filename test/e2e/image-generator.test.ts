import { execFile } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  generateImage,
  generateIndex,
  MEDIA_TYPES,
  ociReference,
  presets,
  writeDirImage,
  type GeneratedImage,
  type GeneratedIndex,
} from '../fixtures/image-generator.js';
import { run, skopeoCopy, skopeoInspect, skopeoInspectConfig, skopeoInspectRaw } from '../helpers/clients.js';
import { blobFile, fileDigest, parseManifest, sha256, TempDirs, verifyLayoutImage } from './support.js';

// The generator is the source of every image the other end-to-end tests push, so it is checked
// here against the real tools' idea of a valid image: skopeo and umoci read it, digests and
// diff_ids recomputed from the bytes agree, and the same spec gives the same bytes every time.

const dirs = new TempDirs();
afterAll(() => dirs.removeAll());

interface Generated {
  small: GeneratedImage;
  multi: GeneratedIndex;
  many: GeneratedImage;
  docker: GeneratedImage;
}

async function generateAll(layout: string): Promise<Generated> {
  return {
    small: await generateImage(layout, presets.small({ tag: 'small' })),
    multi: await generateIndex(layout, presets.multiPlatform({ tag: 'multi' })),
    many: await generateImage(layout, presets.manyLayers({ tag: 'many' })),
    docker: await generateImage(layout, presets.small({ tag: 'docker', mediaTypes: 'docker' })),
  };
}

async function treeFingerprint(layout: string): Promise<Record<string, string>> {
  const out: Record<string, string> = { 'index.json': sha256(await readFile(join(layout, 'index.json'))) };
  for (const name of await readdir(join(layout, 'blobs', 'sha256'))) {
    out[name] = await fileDigest(join(layout, 'blobs', 'sha256', name));
  }
  return out;
}

describe('image generator', () => {
  let layout: string;
  let images: Generated;

  beforeAll(async () => {
    layout = await dirs.make('layout');
    images = await generateAll(layout);
  });

  test('is deterministic: a second run writes the same bytes', async () => {
    const again = await dirs.make('layout-again');
    expect(await generateAll(again)).toEqual(images);
    expect(await treeFingerprint(again)).toEqual(await treeFingerprint(layout));
  });

  test('gives the pinned digests on every machine', () => {
    // If these change, every machine that compares fixtures (benchmarks, CI) needs to know: either the
    // generator changed on purpose (update the pins), or this machine's zlib compresses differently.
    expect(images.small.digest).toBe(
      'sha256:5cf8bdf55ce27034b20255646de4696bfc4dc9724fb3ab78a5bb15c7c4ceffa3',
    );
    expect(images.multi.digest).toBe(
      'sha256:073a7df5a815660442af3930f34451fb1397e47954c31a5bc5a4fa1dec4be652',
    );
    expect(images.many.digest).toBe(
      'sha256:f576a4add501ebcb91e2ec3fc21febc635470d05f1f7065d8dc588bc5eb0d2f5',
    );
  });

  test('different seeds give different images; a shared layer seed gives a shared blob', async () => {
    const other = await generateImage(layout, presets.small({ tag: 'other', seed: 'other' }));
    expect(other.digest).not.toBe(images.small.digest);
    const shared = { sizeBytes: 4096, seed: 'shared-base' };
    const a = await generateImage(layout, {
      tag: 'share-a',
      seed: 'a',
      layers: [shared, { sizeBytes: 100 }],
    });
    const b = await generateImage(layout, {
      tag: 'share-b',
      seed: 'b',
      layers: [shared, { sizeBytes: 100 }],
    });
    expect(a.layers[0]!.digest).toBe(b.layers[0]!.digest);
    expect(a.layers[1]!.digest).not.toBe(b.layers[1]!.digest);
  });

  test('layouts are complete and every blob hashes to its name', async () => {
    for (const tag of ['small', 'multi', 'many', 'docker']) await verifyLayoutImage(layout, tag);
    expect(images.many.layers).toHaveLength(50);
    expect(images.multi.manifests.map((m) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]);
  });

  test('diff_ids are the sha256 of the uncompressed layers, and the config lists them', async () => {
    for (const image of [images.small, images.many, images.docker, ...images.multi.manifests]) {
      const config = JSON.parse(await readFile(blobFile(layout, image.config.digest), 'utf8')) as {
        rootfs: { type: string; diff_ids: string[] };
        architecture: string;
        os: string;
      };
      expect(config.rootfs.type).toBe('layers');
      expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
      expect(config.architecture).toBe(image.platform.architecture);
      for (const layer of image.layers) {
        expect(await fileDigest(blobFile(layout, layer.digest), { gunzip: true })).toBe(layer.diffId);
        expect((await stat(blobFile(layout, layer.digest))).size).toBe(layer.size);
      }
    }
  });

  test('manifests carry the media types asked for', async () => {
    const oci = parseManifest(await readFile(blobFile(layout, images.small.digest)));
    expect(oci.mediaType).toBe(MEDIA_TYPES.oci.manifest);
    expect(oci.config?.mediaType).toBe(MEDIA_TYPES.oci.config);
    expect(oci.layers?.every((l) => l.mediaType === MEDIA_TYPES.oci.layer)).toBe(true);
    const docker = parseManifest(await readFile(blobFile(layout, images.docker.digest)));
    expect(docker.mediaType).toBe(MEDIA_TYPES.docker.manifest);
    expect(docker.config?.mediaType).toBe(MEDIA_TYPES.docker.config);
    expect(docker.layers?.every((l) => l.mediaType === MEDIA_TYPES.docker.layer)).toBe(true);
    const index = parseManifest(await readFile(blobFile(layout, images.multi.digest)));
    expect(index.mediaType).toBe(MEDIA_TYPES.oci.index);
  });

  test('skopeo inspect accepts the layout and reports the same digests', async () => {
    const ref = ociReference(layout, 'small');
    const inspected = await skopeoInspect(ref);
    expect(inspected.Digest).toBe(images.small.digest);
    expect(inspected.Layers).toEqual(images.small.layers.map((l) => l.digest));
    expect(inspected.Architecture).toBe('amd64');
    expect(sha256(await skopeoInspectRaw(ref))).toBe(images.small.digest);
    expect(sha256(await skopeoInspectConfig(ref))).toBe(images.small.config.digest);
    expect((await skopeoInspect(ociReference(layout, 'many'))).Layers).toHaveLength(50);
  });

  test('skopeo copies the index with all platforms to dir: unchanged (it verifies every blob)', async () => {
    const out = join(await dirs.make('dir-copy'), 'multi');
    await skopeoCopy(ociReference(layout, 'multi'), `dir:${out}`, { all: true, preserveDigests: true });
    expect(sha256(await readFile(join(out, 'manifest.json')))).toBe(images.multi.digest);
    for (const child of images.multi.manifests) {
      const hex = child.digest.replace('sha256:', '');
      expect(sha256(await readFile(join(out, `${hex}.manifest.json`)))).toBe(child.digest);
      for (const layer of child.layers) {
        expect(await fileDigest(join(out, layer.digest.replace('sha256:', '')))).toBe(layer.digest);
      }
    }
  });

  test('Docker schema 2 images are readable by skopeo through writeDirImage', async () => {
    const ref = await writeDirImage(layout, images.docker, join(await dirs.make('dir-docker'), 'docker'));
    const inspected = await skopeoInspect(ref);
    expect(inspected.Digest).toBe(images.docker.digest);
    expect(inspected.Layers).toEqual(images.docker.layers.map((l) => l.digest));
  });

  test('umoci unpacks it (checking blob digests and diff_ids) into the files the spec asked for', async () => {
    const bundle = join(await dirs.make('umoci'), 'bundle');
    await run('umoci', ['unpack', '--rootless', '--image', `${layout}:small`, bundle], { timeoutMs: 60_000 });
    const rootfs = join(bundle, 'rootfs');
    expect((await readdir(rootfs)).sort()).toEqual(['layer-000', 'layer-001', 'layer-002']);
    expect((await readdir(join(rootfs, 'layer-000'))).sort()).toEqual([
      'file-000.txt',
      'file-001.txt',
      'file-002.txt',
    ]);
    expect((await stat(join(rootfs, 'layer-001', 'file-000.bin'))).size).toBe(128 * 1024);
    expect((await stat(join(rootfs, 'layer-002', 'file-004.txt'))).size).toBe(8 * 1024);
    const stats = await run('umoci', ['stat', '--json', '--image', `${layout}:small`], { timeoutMs: 60_000 });
    const history = (JSON.parse(stats) as { history: Array<{ layer: { digest: string } }> }).history;
    expect(history.map((h) => h.layer.digest)).toEqual(images.small.layers.map((l) => l.digest));
  });

  test('a large layer is streamed: memory stays far below its size', async () => {
    const totalBytes = 120 * 1024 * 1024;
    const work = await dirs.make('large');
    // A child of its own, so that its peak RSS measures the generator and nothing else.
    const script = join(work, 'generate.mjs');
    await writeFile(
      script,
      [
        `import { generateImage, presets } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../fixtures/image-generator.ts')).href)};`,
        `const image = await generateImage(${JSON.stringify(join(work, 'layout'))}, presets.large({ tag: 'large', totalBytes: ${totalBytes} }));`,
        `console.log(JSON.stringify({ image, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));`,
      ].join('\n'),
    );
    const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 300_000 });
    const { image, maxRssBytes } = JSON.parse(stdout) as { image: GeneratedImage; maxRssBytes: number };
    expect(maxRssBytes).toBeLessThan(totalBytes);
    expect(image.layers).toHaveLength(1);
    const layer = image.layers[0]!;
    expect(layer.size).toBeGreaterThan(totalBytes);
    expect(await fileDigest(blobFile(join(work, 'layout'), layer.digest))).toBe(layer.digest);
    expect(await fileDigest(blobFile(join(work, 'layout'), layer.digest), { gunzip: true })).toBe(
      layer.diffId,
    );
    expect((await skopeoInspect(ociReference(join(work, 'layout'), 'large'))).Digest).toBe(image.digest);
  });
});
