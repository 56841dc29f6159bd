import { createCipheriv } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateImage, ociReference, presets } from '../fixtures/image-generator.js';
import {
  createBuildah,
  skopeoCopy,
  skopeoInspect,
  skopeoInspectConfig,
  skopeoInspectRaw,
  type BuildahClient,
} from '../helpers/clients.js';
import { blobFile, fileDigest, getManifest, parseManifest, sha256, verifyLayoutImage } from './support.js';
import { targetKind, useTarget } from './target.js';

// buildah builds an image (from scratch, and on top of an image in the registry), commits and pushes
// it; the registry must then serve exactly the manifest buildah says it pushed (--digestfile), with
// blobs whose content is the file that went in.

const e2e = useTarget();
let buildah: BuildahClient;
let work: string;

beforeAll(async () => {
  buildah = await createBuildah();
  work = await e2e.dirs.make('buildah');
});

afterAll(() => buildah?.dispose());

/** A file of `size` pseudo-random bytes; returns its sha256. */
async function payload(path: string, size: number, seed: number): Promise<string> {
  const bytes = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16)).update(
    Buffer.alloc(size),
  );
  await writeFile(path, bytes);
  return sha256(bytes);
}

/** name → sha256 of every regular file in a tar+gzip layer. */
async function layerFiles(path: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const entries = extract();
  createReadStream(path).pipe(createGunzip()).pipe(entries);
  for await (const entry of entries) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (entry.header.type === 'file')
      files.set(entry.header.name.replace(/^\.?\//, ''), sha256(Buffer.concat(chunks)));
  }
  return files;
}

async function pushedImage(name: string, tag: string) {
  const ref = e2e.target.ref(name, tag);
  const layout = await e2e.dirs.make(`${name}-back`);
  await skopeoCopy(ref, ociReference(layout, tag), { creds: e2e.target.creds, preserveDigests: true });
  await verifyLayoutImage(layout, tag);
  const served = await getManifest(e2e.target, name, tag);
  expect(served.status).toBe(200);
  return { ref, layout, served, manifest: parseManifest(served.body) };
}

describe(`buildah against ${targetKind()}`, () => {
  test('from scratch: the pushed digest is what the registry serves, and the file is in the layer', async () => {
    const file = join(work, 'payload.bin');
    const fileSha = await payload(file, 3 * 1024 * 1024 + 17, 1);
    const container = await buildah.from('scratch');
    await buildah.copy(container, file, '/data/payload.bin');
    await buildah.config(container, ['--label', 'org.wharf.test=buildah', '--env', 'WHARF=1']);
    const imageId = await buildah.commit(container, 'wharf-e2e-scratch');
    const digest = await buildah.push(imageId, e2e.target.ref('scratch', '1'), {
      creds: e2e.target.creds,
      freshBlobInfoCache: true,
    });

    const { ref, layout, served, manifest } = await pushedImage('scratch', '1');
    expect(served.dockerContentDigest).toBe(digest);
    expect(sha256(served.body)).toBe(digest);
    expect((await skopeoInspect(ref, { creds: e2e.target.creds })).Digest).toBe(digest);
    expect(sha256(await skopeoInspectRaw(ref, { creds: e2e.target.creds }))).toBe(digest);
    // buildah's image id is the digest of its config.
    expect(sha256(await skopeoInspectConfig(ref, { creds: e2e.target.creds }))).toBe(`sha256:${imageId}`);

    expect(manifest.layers).toHaveLength(1);
    const layerPath = blobFile(layout, manifest.layers![0]!.digest);
    expect((await layerFiles(layerPath)).get('data/payload.bin')).toBe(fileSha);
    const config = JSON.parse((await skopeoInspectConfig(ref, { creds: e2e.target.creds })).toString()) as {
      rootfs: { diff_ids: string[] };
    };
    expect(config.rootfs.diff_ids).toEqual([await fileDigest(layerPath, { gunzip: true })]);
  });

  test('on top of an image from the registry: base layers are reused as they are', async () => {
    // The base goes in through skopeo, so its layer digests are the generator's.
    const baseLayout = await e2e.dirs.make('buildah-base');
    const base = await generateImage(baseLayout, presets.small({ tag: 'base', seed: 'buildah-base' }));
    await skopeoCopy(ociReference(baseLayout, 'base'), e2e.target.ref('base', '1'), {
      creds: e2e.target.creds,
      preserveDigests: true,
      freshBlobInfoCache: true,
    });

    const file = join(work, 'app.bin');
    const fileSha = await payload(file, 512 * 1024, 2);
    const container = await buildah.from(e2e.target.ref('base', '1'), { creds: e2e.target.creds });
    await buildah.copy(container, file, '/app/app.bin');
    const imageId = await buildah.commit(container, 'wharf-e2e-derived');
    // Another repository: buildah may mount the base layers from base instead of uploading them.
    const digest = await buildah.push(imageId, e2e.target.ref('derived', '1'), { creds: e2e.target.creds });

    const { served, layout, manifest } = await pushedImage('derived', '1');
    expect(served.dockerContentDigest).toBe(digest);
    expect(sha256(served.body)).toBe(digest);
    expect(manifest.layers).toHaveLength(base.layers.length + 1);
    expect(manifest.layers!.slice(0, base.layers.length).map((l) => l.digest)).toEqual(
      base.layers.map((l) => l.digest),
    );
    const top = manifest.layers![base.layers.length]!;
    expect((await layerFiles(blobFile(layout, top.digest))).get('app/app.bin')).toBe(fileSha);
  });
});
