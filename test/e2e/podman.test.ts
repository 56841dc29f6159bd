import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  generateImage,
  generateIndex,
  MEDIA_TYPES,
  ociReference,
  presets,
} from '../fixtures/image-generator.js';
import {
  createPodman,
  skopeoCopy,
  skopeoInspect,
  skopeoInspectConfig,
  skopeoInspectRaw,
  type PodmanClient,
} from '../helpers/clients.js';
import {
  expectManifestServed,
  fileDigest,
  getManifest,
  parseManifest,
  sha256,
  verifyLayoutImage,
} from './support.js';
import { targetKind, useTarget } from './target.js';

// podman with its own throwaway vfs store: an image from a generated layout goes into local
// storage, is pushed, removed, and pulled back from the registry; digests must agree everywhere.
// podman recompresses layers when it pushes from local storage, so the pushed layer digests are
// podman's own; what must survive is the config (image id) and the uncompressed content (diff_ids).

const e2e = useTarget();
let layout: string;
let podman: PodmanClient;

beforeAll(async () => {
  layout = await e2e.dirs.make('podman-layout');
  podman = await createPodman();
});

afterAll(() => podman?.dispose());

const hex = (digest: string) => digest.replace(/^sha256:/, '');

describe(`podman against ${targetKind()}`, () => {
  test('pull from a layout, push, rmi, pull back: same digest and image', async () => {
    const image = await generateImage(layout, presets.small({ tag: 'podman', seed: 'podman' }));
    const id = await podman.pull(ociReference(layout, 'podman'));
    expect(id).toBe(hex(image.config.digest));

    const pushed = await podman.push(id, e2e.target.ref('podman', '1'), {
      creds: e2e.target.creds,
      freshBlobInfoCache: true,
    });
    expect(pushed).toMatch(/^sha256:[0-9a-f]{64}$/);

    const ref = e2e.target.ref('podman', '1');
    expect((await skopeoInspect(ref, { creds: e2e.target.creds })).Digest).toBe(pushed);
    expect(sha256(await skopeoInspectRaw(ref, { creds: e2e.target.creds }))).toBe(pushed);
    expect(sha256(await skopeoInspectConfig(ref, { creds: e2e.target.creds }))).toBe(image.config.digest);
    const served = await getManifest(e2e.target, 'podman', '1');
    expect(served.status).toBe(200);
    expect(served.dockerContentDigest).toBe(pushed);
    const manifest = parseManifest(served.body);
    expect(manifest.layers).toHaveLength(image.layers.length);

    // The layers the registry holds decompress to the generated content.
    const copy = await e2e.dirs.make('podman-copy');
    await skopeoCopy(ref, ociReference(copy, 'back'), { creds: e2e.target.creds, preserveDigests: true });
    await verifyLayoutImage(copy, 'back');
    for (const [i, layer] of (manifest.layers ?? []).entries()) {
      const path = join(copy, 'blobs', 'sha256', hex(layer.digest));
      expect(await fileDigest(path, { gunzip: true })).toBe(image.layers[i]!.diffId);
    }

    await podman.rmi(id);
    expect(await podman.imageNames()).toEqual([]);
    expect(await podman.pull(ref, { creds: e2e.target.creds })).toBe(id);
    expect(await podman.imageDigest(id)).toBe(pushed);
    await podman.rmi(id);
  });

  test('push --format v2s2 converts to Docker schema 2, served as such', async () => {
    const image = await generateImage(layout, presets.small({ tag: 'podman-v2s2', seed: 'podman-v2s2' }));
    const id = await podman.pull(ociReference(layout, 'podman-v2s2'));
    const pushed = await podman.push(id, e2e.target.ref('podman-v2s2', '1'), {
      creds: e2e.target.creds,
      format: 'v2s2',
    });
    await expectManifestServed(e2e.target, 'podman-v2s2', '1', {
      digest: pushed,
      mediaType: MEDIA_TYPES.docker.manifest,
    });
    const config = JSON.parse(
      (await skopeoInspectConfig(e2e.target.ref('podman-v2s2', '1'), { creds: e2e.target.creds })).toString(),
    ) as { rootfs: { diff_ids: string[] } };
    expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
    await podman.rmi(id);
    expect(await podman.pull(e2e.target.ref('podman-v2s2', '1'), { creds: e2e.target.creds })).toBe(id);
    expect(await podman.imageDigest(id)).toBe(pushed);
    await podman.rmi(id);
  });

  test('pulls one platform of a multi-platform index pushed by skopeo', async () => {
    const index = await generateIndex(
      layout,
      presets.multiPlatform({ tag: 'podman-multi', seed: 'podman-multi' }),
    );
    await skopeoCopy(ociReference(layout, 'podman-multi'), e2e.target.ref('podman-multi', 'latest'), {
      creds: e2e.target.creds,
      all: true,
      preserveDigests: true,
      freshBlobInfoCache: true,
    });
    const amd64 = index.manifests.find((m) => m.platform.architecture === 'amd64')!;
    const arm64 = index.manifests.find((m) => m.platform.architecture === 'arm64')!;
    const ref = e2e.target.ref('podman-multi', 'latest');
    const amdId = await podman.pull(ref, { creds: e2e.target.creds, platform: 'linux/amd64' });
    expect(amdId).toBe(hex(amd64.config.digest));
    const armId = await podman.pull(ref, { creds: e2e.target.creds, platform: 'linux/arm64/v8' });
    expect(armId).toBe(hex(arm64.config.digest));
    // Pulled through the index, the image's digest is the index's.
    expect(await podman.imageDigest(armId)).toBe(index.digest);
  });
});
