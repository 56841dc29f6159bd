import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
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
import {
  CommandError,
  skopeoCopy,
  skopeoDelete,
  skopeoInspect,
  skopeoInspectConfig,
  skopeoInspectRaw,
  skopeoListTags,
  skopeoSync,
} from '../helpers/clients.js';
import {
  expectManifestServed,
  fileDigest,
  getManifest,
  layoutDescriptor,
  sha256,
  TempDirs,
  verifyLayoutImage,
} from './support.js';
import { startTarget, targetKind, type E2ETarget } from './target.js';

// skopeo against the registry: every image goes in from a generated layout and comes back out, and
// what comes back must be byte-for-byte what went in (manifest digests, every blob digest), as
// served over HTTP and as skopeo reads it.

const dirs = new TempDirs();
let target: E2ETarget;
let layout: string;

beforeAll(async () => {
  target = await startTarget();
  layout = await dirs.make('skopeo-layout');
});

afterAll(async () => {
  await target?.stop();
  await dirs.removeAll();
});

/** Pushes oci:layout:tag to NAME:REFERENCE, uploading every blob for real. */
async function push(tag: string, name: string, reference: string, all = false): Promise<void> {
  await skopeoCopy(ociReference(layout, tag), target.ref(name, reference), {
    creds: target.creds,
    all,
    preserveDigests: true,
    freshBlobInfoCache: true,
  });
}

/** Pulls NAME:REFERENCE into a fresh OCI layout and checks it against the generated original. */
async function pullBackAndCompare(name: string, reference: string, tag: string, all = false): Promise<void> {
  const out = await dirs.make('pulled');
  await skopeoCopy(target.ref(name, reference), ociReference(out, tag), {
    creds: target.creds,
    all,
    preserveDigests: true,
  });
  expect((await layoutDescriptor(out, tag)).digest).toBe((await layoutDescriptor(layout, tag)).digest);
  expect(await verifyLayoutImage(out, tag)).toEqual(await verifyLayoutImage(layout, tag));
}

async function expectInspectMatches(name: string, reference: string, image: GeneratedImage): Promise<void> {
  const ref = target.ref(name, reference);
  const inspected = await skopeoInspect(ref, { creds: target.creds });
  expect(inspected.Digest).toBe(image.digest);
  expect(inspected.Layers).toEqual(image.layers.map((l) => l.digest));
  expect(sha256(await skopeoInspectRaw(ref, { creds: target.creds }))).toBe(image.digest);
  expect(sha256(await skopeoInspectConfig(ref, { creds: target.creds }))).toBe(image.config.digest);
}

async function expectManifestUnknown(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(CommandError);
  expect((error as CommandError).exitCode).not.toBe(0);
  expect((error as CommandError).stderr).toMatch(/manifest unknown/i);
}

describe(`skopeo against ${targetKind()}`, () => {
  test('copies an OCI image to the registry and back unchanged', async () => {
    const image = await generateImage(layout, presets.small({ tag: 'small' }));
    await push('small', 'small', '1.0');

    await expectManifestServed(target, 'small', '1.0', {
      digest: image.digest,
      mediaType: MEDIA_TYPES.oci.manifest,
    });
    await expectManifestServed(target, 'small', image.digest, {
      digest: image.digest,
      mediaType: MEDIA_TYPES.oci.manifest,
    });
    await expectInspectMatches('small', '1.0', image);
    await expectInspectMatches('small', image.digest, image);
    await pullBackAndCompare('small', '1.0', 'small');
  });

  test('list-tags shows exactly the pushed tags', async () => {
    const image = await generateImage(layout, presets.small({ tag: 'tags', seed: 'tags' }));
    for (const tag of ['v1', 'v2', 'latest']) await push('tags', 'tags', tag);
    expect((await skopeoListTags(target.ref('tags'), { creds: target.creds })).sort()).toEqual([
      'latest',
      'v1',
      'v2',
    ]);
    for (const tag of ['v1', 'v2', 'latest']) {
      expect((await skopeoInspect(target.ref('tags', tag), { creds: target.creds })).Digest).toBe(
        image.digest,
      );
    }
  });

  test('delete removes the manifest, and inspect then fails with manifest unknown', async () => {
    const doomed = await generateImage(layout, presets.small({ tag: 'doomed', seed: 'doomed' }));
    const kept = await generateImage(layout, presets.small({ tag: 'kept', seed: 'kept' }));
    await push('doomed', 'deletes', 'doomed');
    await push('kept', 'deletes', 'kept');
    await skopeoDelete(target.ref('deletes', 'doomed'), { creds: target.creds });

    await expectManifestUnknown(skopeoInspect(target.ref('deletes', 'doomed'), { creds: target.creds }));
    await expectManifestUnknown(skopeoInspect(target.ref('deletes', doomed.digest), { creds: target.creds }));
    expect((await getManifest(target, 'deletes', doomed.digest)).status).toBe(404);
    expect((await skopeoInspect(target.ref('deletes', 'kept'), { creds: target.creds })).Digest).toBe(
      kept.digest,
    );
    expect(await skopeoListTags(target.ref('deletes'), { creds: target.creds })).toEqual(['kept']);
  });

  test('copies a two-platform index with --all and back, all digests identical', async () => {
    const index = await generateIndex(layout, presets.multiPlatform({ tag: 'multi' }));
    await push('multi', 'multi', 'latest', true);

    await expectManifestServed(target, 'multi', 'latest', {
      digest: index.digest,
      mediaType: MEDIA_TYPES.oci.index,
    });
    for (const child of index.manifests) {
      await expectManifestServed(target, 'multi', child.digest, {
        digest: child.digest,
        mediaType: MEDIA_TYPES.oci.manifest,
      });
      await expectInspectMatches('multi', child.digest, child);
    }
    expect(sha256(await skopeoInspectRaw(target.ref('multi', 'latest'), { creds: target.creds }))).toBe(
      index.digest,
    );
    await pullBackAndCompare('multi', 'latest', 'multi', true);
  });

  test('Docker schema 2 manifests and manifest lists round-trip with their media types', async () => {
    const image = await generateImage(
      layout,
      presets.small({ tag: 'docker', seed: 'docker', mediaTypes: 'docker' }),
    );
    const list = await generateIndex(
      layout,
      presets.multiPlatform({ tag: 'docker-list', mediaTypes: 'docker' }),
    );
    const work = await dirs.make('docker');
    const cases: Array<[string, GeneratedImage | GeneratedIndex, string]> = [
      ['docker-image', image, MEDIA_TYPES.docker.manifest],
      ['docker-list', list, MEDIA_TYPES.docker.index],
    ];
    for (const [name, generated, mediaType] of cases) {
      const source = await writeDirImage(layout, generated, join(work, name));
      await skopeoCopy(source, target.ref(name, 'v2s2'), {
        creds: target.creds,
        all: true,
        preserveDigests: true,
        freshBlobInfoCache: true,
      });
      await expectManifestServed(target, name, 'v2s2', { digest: generated.digest, mediaType });
      const back = join(work, `${name}-back`);
      await skopeoCopy(target.ref(name, 'v2s2'), `dir:${back}`, {
        creds: target.creds,
        all: true,
        preserveDigests: true,
      });
      expect(sha256(await readFile(join(back, 'manifest.json')))).toBe(generated.digest);
      const images = 'manifests' in generated ? generated.manifests : [generated];
      for (const child of images) {
        if ('manifests' in generated) {
          await expectManifestServed(target, name, child.digest, {
            digest: child.digest,
            mediaType: MEDIA_TYPES.docker.manifest,
          });
        }
        for (const blob of [child.config, ...child.layers]) {
          expect(await fileDigest(join(back, blob.digest.replace('sha256:', '')))).toBe(blob.digest);
        }
      }
    }
    await expectInspectMatches('docker-image', 'v2s2', image);
  });

  test('sync copies a directory of images into the registry and a repository back out', async () => {
    const a = await generateImage(layout, presets.small({ tag: 'sync-a', seed: 'sync-a' }));
    const b = await generateImage(
      layout,
      presets.small({ tag: 'sync-b', seed: 'sync-b', mediaTypes: 'docker' }),
    );
    const source = await dirs.make('sync-src');
    // skopeo sync --src dir names each destination repository:tag after its directory.
    await writeDirImage(layout, a, join(source, 'sync-a:1.0'));
    await writeDirImage(layout, b, join(source, 'sync-b:2.0'));
    await writeDirImage(layout, b, join(source, 'sync-b:2.1'));
    await skopeoSync(source, `${target.host}/${target.namespace}`, {
      src: 'dir',
      dest: 'docker',
      creds: target.creds,
      preserveDigests: true,
      freshBlobInfoCache: true,
    });
    expect((await skopeoInspect(target.ref('sync-a', '1.0'), { creds: target.creds })).Digest).toBe(a.digest);
    expect((await skopeoInspect(target.ref('sync-b', '2.1'), { creds: target.creds })).Digest).toBe(b.digest);
    expect((await skopeoListTags(target.ref('sync-b'), { creds: target.creds })).sort()).toEqual([
      '2.0',
      '2.1',
    ]);

    const out = await dirs.make('sync-out');
    await skopeoSync(`${target.host}/${target.namespace}/sync-b`, out, {
      src: 'docker',
      dest: 'dir',
      creds: target.creds,
      preserveDigests: true,
    });
    expect((await readdir(out)).sort()).toEqual(['sync-b:2.0', 'sync-b:2.1']);
    for (const tag of ['2.0', '2.1']) {
      const dir = join(out, `sync-b:${tag}`);
      expect(sha256(await readFile(join(dir, 'manifest.json')))).toBe(b.digest);
      for (const blob of [b.config, ...b.layers]) {
        expect(await fileDigest(join(dir, blob.digest.replace('sha256:', '')))).toBe(blob.digest);
      }
    }
  });

  test('a 50-layer image round-trips', async () => {
    const image = await generateImage(layout, presets.manyLayers({ tag: 'many' }));
    await push('many', 'many', 'latest');
    await expectInspectMatches('many', 'latest', image);
    await pullBackAndCompare('many', 'latest', 'many');
  });

  test('a 100 MiB image round-trips', async () => {
    const image = await generateImage(
      layout,
      presets.large({ tag: 'large', totalBytes: 100 * 1024 * 1024, layerCount: 2 }),
    );
    expect(image.totalSize).toBeGreaterThanOrEqual(100 * 1024 * 1024);
    await push('large', 'large', 'latest');
    await expectInspectMatches('large', 'latest', image);
    await pullBackAndCompare('large', 'latest', 'large');
  });
});
