import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
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
  verifyLayoutImage,
} from './support.js';
import { targetKind, useTarget } from './target.js';

// skopeo against the registry: every image goes in from a generated layout and comes back out, and
// what comes back must be byte-for-byte what went in (manifest digests, every blob digest), as
// served over HTTP and as skopeo reads it.

const e2e = useTarget();
let layout: string;

beforeAll(async () => {
  layout = await e2e.dirs.make('skopeo-layout');
});

/** Pushes oci:layout:tag to NAME:REFERENCE, uploading every blob for real. */
async function push(tag: string, name: string, reference: string, all = false): Promise<void> {
  await skopeoCopy(ociReference(layout, tag), e2e.target.ref(name, reference), {
    creds: e2e.target.creds,
    all,
    preserveDigests: true,
    freshBlobInfoCache: true,
  });
}

/** Pulls NAME:REFERENCE into a fresh OCI layout and checks it against the generated original. */
async function pullBackAndCompare(name: string, reference: string, tag: string, all = false): Promise<void> {
  const out = await e2e.dirs.make('pulled');
  await skopeoCopy(e2e.target.ref(name, reference), ociReference(out, tag), {
    creds: e2e.target.creds,
    all,
    preserveDigests: true,
  });
  expect((await layoutDescriptor(out, tag)).digest).toBe((await layoutDescriptor(layout, tag)).digest);
  expect(await verifyLayoutImage(out, tag)).toEqual(await verifyLayoutImage(layout, tag));
}

async function expectInspectMatches(name: string, reference: string, image: GeneratedImage): Promise<void> {
  const ref = e2e.target.ref(name, reference);
  const inspected = await skopeoInspect(ref, { creds: e2e.target.creds });
  expect(inspected.Digest).toBe(image.digest);
  expect(inspected.Layers).toEqual(image.layers.map((l) => l.digest));
  expect(sha256(await skopeoInspectRaw(ref, { creds: e2e.target.creds }))).toBe(image.digest);
  expect(sha256(await skopeoInspectConfig(ref, { creds: e2e.target.creds }))).toBe(image.config.digest);
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

    await expectManifestServed(e2e.target, 'small', '1.0', {
      digest: image.digest,
      mediaType: MEDIA_TYPES.oci.manifest,
    });
    await expectManifestServed(e2e.target, 'small', image.digest, {
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
    expect((await skopeoListTags(e2e.target.ref('tags'), { creds: e2e.target.creds })).sort()).toEqual([
      'latest',
      'v1',
      'v2',
    ]);
    for (const tag of ['v1', 'v2', 'latest']) {
      expect((await skopeoInspect(e2e.target.ref('tags', tag), { creds: e2e.target.creds })).Digest).toBe(
        image.digest,
      );
    }
  });

  test('delete removes the manifest, and inspect then fails with manifest unknown', async () => {
    const doomed = await generateImage(layout, presets.small({ tag: 'doomed', seed: 'doomed' }));
    const kept = await generateImage(layout, presets.small({ tag: 'kept', seed: 'kept' }));
    await push('doomed', 'deletes', 'doomed');
    await push('kept', 'deletes', 'kept');
    await skopeoDelete(e2e.target.ref('deletes', 'doomed'), { creds: e2e.target.creds });

    await expectManifestUnknown(
      skopeoInspect(e2e.target.ref('deletes', 'doomed'), { creds: e2e.target.creds }),
    );
    await expectManifestUnknown(
      skopeoInspect(e2e.target.ref('deletes', doomed.digest), { creds: e2e.target.creds }),
    );
    expect((await getManifest(e2e.target, 'deletes', doomed.digest)).status).toBe(404);
    expect((await skopeoInspect(e2e.target.ref('deletes', 'kept'), { creds: e2e.target.creds })).Digest).toBe(
      kept.digest,
    );
    expect(await skopeoListTags(e2e.target.ref('deletes'), { creds: e2e.target.creds })).toEqual(['kept']);
  });

  test('copies a two-platform index with --all and back, all digests identical', async () => {
    const index = await generateIndex(layout, presets.multiPlatform({ tag: 'multi' }));
    await push('multi', 'multi', 'latest', true);

    await expectManifestServed(e2e.target, 'multi', 'latest', {
      digest: index.digest,
      mediaType: MEDIA_TYPES.oci.index,
    });
    for (const child of index.manifests) {
      await expectManifestServed(e2e.target, 'multi', child.digest, {
        digest: child.digest,
        mediaType: MEDIA_TYPES.oci.manifest,
      });
      await expectInspectMatches('multi', child.digest, child);
    }
    expect(
      sha256(await skopeoInspectRaw(e2e.target.ref('multi', 'latest'), { creds: e2e.target.creds })),
    ).toBe(index.digest);
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
    const work = await e2e.dirs.make('docker');
    const cases: Array<[string, GeneratedImage | GeneratedIndex, string]> = [
      ['docker-image', image, MEDIA_TYPES.docker.manifest],
      ['docker-list', list, MEDIA_TYPES.docker.index],
    ];
    for (const [name, generated, mediaType] of cases) {
      const source = await writeDirImage(layout, generated, join(work, name));
      await skopeoCopy(source, e2e.target.ref(name, 'v2s2'), {
        creds: e2e.target.creds,
        all: true,
        preserveDigests: true,
        freshBlobInfoCache: true,
      });
      await expectManifestServed(e2e.target, name, 'v2s2', { digest: generated.digest, mediaType });
      const back = join(work, `${name}-back`);
      await skopeoCopy(e2e.target.ref(name, 'v2s2'), `dir:${back}`, {
        creds: e2e.target.creds,
        all: true,
        preserveDigests: true,
      });
      expect(sha256(await readFile(join(back, 'manifest.json')))).toBe(generated.digest);
      const images = 'manifests' in generated ? generated.manifests : [generated];
      for (const child of images) {
        if ('manifests' in generated) {
          await expectManifestServed(e2e.target, name, child.digest, {
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
    const source = await e2e.dirs.make('sync-src');
    // skopeo sync --src dir names each destination repository:tag after its directory.
    await writeDirImage(layout, a, join(source, 'sync-a:1.0'));
    await writeDirImage(layout, b, join(source, 'sync-b:2.0'));
    await writeDirImage(layout, b, join(source, 'sync-b:2.1'));
    await skopeoSync(source, `${e2e.target.host}/${e2e.target.namespace}`, {
      src: 'dir',
      dest: 'docker',
      creds: e2e.target.creds,
      preserveDigests: true,
      freshBlobInfoCache: true,
    });
    expect((await skopeoInspect(e2e.target.ref('sync-a', '1.0'), { creds: e2e.target.creds })).Digest).toBe(
      a.digest,
    );
    expect((await skopeoInspect(e2e.target.ref('sync-b', '2.1'), { creds: e2e.target.creds })).Digest).toBe(
      b.digest,
    );
    expect((await skopeoListTags(e2e.target.ref('sync-b'), { creds: e2e.target.creds })).sort()).toEqual([
      '2.0',
      '2.1',
    ]);

    const out = await e2e.dirs.make('sync-out');
    await skopeoSync(`${e2e.target.host}/${e2e.target.namespace}/sync-b`, out, {
      src: 'docker',
      dest: 'dir',
      creds: e2e.target.creds,
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

  // docker-registry, the reference, runs without authentication: nothing to check there.
  test.skipIf(targetKind() === 'docker-registry')(
    'refuses pushes and pulls without valid credentials',
    async () => {
      const image = await generateImage(layout, presets.small({ tag: 'guarded', seed: 'guarded' }));
      await push('guarded', 'guarded', '1');
      const creds = e2e.target.creds!;
      const unauthorized = /unauthorized|authentication required/i;
      const wrong = { username: creds.username, password: `${creds.password}-wrong` };
      for (const attempt of [undefined, wrong]) {
        await expect(
          skopeoCopy(ociReference(layout, 'guarded'), e2e.target.ref('guarded-denied', '1'), {
            ...(attempt ? { creds: attempt } : {}),
            freshBlobInfoCache: true,
          }),
        ).rejects.toThrow(unauthorized);
      }
      await expect(skopeoInspect(e2e.target.ref('guarded', '1'), { creds: wrong })).rejects.toThrow(
        unauthorized,
      );
      // The target's namespace is Harbor's public project library: anyone may pull from it, as in
      // Harbor (issue #10, point 17), while wrong credentials are still refused above.
      expect((await skopeoInspect(e2e.target.ref('guarded', '1'))).Digest).toBe(image.digest);
      await expect(skopeoListTags(e2e.target.ref('guarded-denied'), { creds })).rejects.toThrow(CommandError);
      expect((await skopeoInspect(e2e.target.ref('guarded', '1'), { creds })).Digest).toBe(image.digest);
    },
  );

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
