import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerRegistry, type DockerRegistryHandle } from '../helpers/docker-registry.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { DEFAULT_TEST_PROJECTS } from '../helpers/server.js';
import { OCI_INDEX } from '../helpers/oci-client.js';
import {
  generateImage,
  generateIndex,
  presets,
  type GeneratedImage,
  type GeneratedIndex,
} from '../fixtures/image-generator.js';
import { RemoteRegistry } from '../../src/remote/index.js';
import { copyArtifact, type CopyRequest } from '../../src/replication/copy/index.js';
import { pushTestImage, pushTestSignature, sha256 } from './remote-registry-fixtures.js';

// The copy engine between real registries, both ways: Wharf → docker-registry and
// docker-registry → Wharf. Images with several layers, multi-arch indexes, referrers, skipping
// what is there, cross-repository mount, override=false. Database-independent: run once.

describe.runIf(process.env.WHARF_TEST_DATABASE !== 'postgres')('copy engine', () => {
  let wharf: InProcessWharf;
  let docker: DockerRegistryHandle;
  let wharfClient: RemoteRegistry;
  let dockerClient: RemoteRegistry;
  let layout: string;
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    [wharf, docker] = await Promise.all([
      startInProcessWharf({}, { projects: DEFAULT_TEST_PROJECTS }),
      startDockerRegistry(),
    ]);
    wharfClient = new RemoteRegistry({
      url: wharf.url,
      type: 'harbor',
      credential: { type: 'basic', accessKey: wharf.adminUser, accessSecret: wharf.adminPassword },
    });
    dockerClient = new RemoteRegistry({ url: docker.url, type: 'docker-registry' });
    layout = await mkdtemp(join(tmpdir(), 'wharf-copy-layout-'));
  });
  afterAll(async () => {
    await Promise.all([wharfClient?.close(), dockerClient?.close()]);
    await Promise.all([wharf?.close(), docker?.stop()]);
    if (layout) await rm(layout, { recursive: true, force: true });
  });

  /** Pushes a generated image or index from the layout to a registry, children first. */
  async function pushGenerated(
    client: RemoteRegistry,
    name: string,
    generated: GeneratedImage | GeneratedIndex,
  ) {
    const blob = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
    const images = 'manifests' in generated ? generated.manifests : [generated];
    for (const image of images) {
      for (const b of [image.config, ...image.layers]) {
        await client.pushBlob(name, b.digest, createReadStream(blob(b.digest)), b.size);
      }
      if (image !== generated) {
        await client.putManifest(name, image.digest, await readFile(blob(image.digest)), image.mediaType);
      }
    }
    const tag = generated.tag ?? generated.digest;
    await client.putManifest(name, tag, await readFile(blob(generated.digest)), generated.mediaType);
  }

  for (const direction of ['wharf-to-docker', 'docker-to-wharf'] as const) {
    describe(direction, () => {
      const ends = () =>
        direction === 'wharf-to-docker'
          ? { from: wharfClient, to: dockerClient }
          : { from: dockerClient, to: wharfClient };
      const repo = (label: string) => `test/copy-${run}-${direction}/${label}`;
      const request = (
        name: string,
        reference: string,
        target: { name?: string; tag?: string } = {},
        options: CopyRequest['options'] = {},
      ): CopyRequest => ({
        source: { registry: ends().from, repository: name, reference },
        destination: {
          registry: ends().to,
          repository: target.name ?? name,
          ...(target.tag !== undefined ? { tag: target.tag } : {}),
        },
        options,
      });

      it('copies an image with several layers with identical digests, then skips it all', async () => {
        const { from, to } = ends();
        const name = repo('layers');
        const image = await generateImage(layout, {
          ...presets.small({ tag: 'v1', seed: `${run}-${direction}` }),
        });
        await pushGenerated(from, name, image);
        const lines: string[] = [];
        const first = await copyArtifact(request(name, 'v1', { tag: 'v1' }, { log: (l) => lines.push(l) }));
        expect(first).toMatchObject({
          digest: image.digest,
          manifestsCopied: 1,
          blobsCopied: 4,
          blobsSkipped: 0,
          tagged: true,
          tagSkipped: false,
        });
        expect(first.bytesSent).toBe(image.totalSize - image.size);
        expect((await to.headManifest(name, 'v1'))?.digest).toBe(image.digest);
        expect((await to.getManifest(name, image.digest))?.bytes).toEqual(
          await readFile(join(layout, 'blobs', 'sha256', image.digest.slice(7))),
        );
        for (const b of [image.config, ...image.layers]) {
          expect(await to.statBlob(name, b.digest)).toEqual({ size: b.size });
        }
        expect(lines.some((l) => l.startsWith('done '))).toBe(true);

        const again = await copyArtifact(request(name, 'v1', { tag: 'v1' }));
        expect(again).toMatchObject({
          digest: image.digest,
          manifestsCopied: 0,
          manifestsSkipped: 1,
          bytesSent: 0,
        });
        expect(again.blobsCopied + again.blobsMounted).toBe(0);
      });

      it('copies a multi-arch index with its children', async () => {
        const { from, to } = ends();
        const name = repo('multi');
        const index = await generateIndex(
          layout,
          presets.multiPlatform({ tag: 'multi', seed: `${run}-${direction}` }),
        );
        await pushGenerated(from, name, index);
        const result = await copyArtifact(request(name, index.digest, { tag: 'multi' }));
        expect(result).toMatchObject({ digest: index.digest, mediaType: OCI_INDEX, manifestsCopied: 3 });
        expect(result.blobsCopied).toBe(index.manifests.reduce((n, m) => n + 1 + m.layers.length, 0));
        expect((await to.headManifest(name, 'multi'))?.digest).toBe(index.digest);
        for (const child of index.manifests) {
          expect((await to.headManifest(name, child.digest))?.digest).toBe(child.digest);
          for (const layer of child.layers)
            expect(await to.statBlob(name, layer.digest)).toEqual({ size: layer.size });
        }
      });

      it('brings a referrer (a signature of the image) along with its subject', async () => {
        const { from, to } = ends();
        const name = repo('signed');
        const subject = await pushTestImage(from, name, 'signed');
        // docker-registry has no referrers API: clients keep the fallback tag, as cosign does.
        const {
          digest: signatureDigest,
          bytes: signature,
          payload,
          descriptor,
        } = await pushTestSignature(from, name, subject, {
          payloadSize: 300,
          fallbackTag: direction === 'docker-to-wharf',
        });
        const result = await copyArtifact(request(name, 'signed', { tag: 'signed' }));
        expect(result).toMatchObject({ digest: subject.digest, manifestsCopied: 2, referrersCopied: 1 });
        expect((await to.getManifest(name, signatureDigest))?.bytes).toEqual(signature);
        expect(await to.statBlob(name, sha256(payload))).toEqual({ size: payload.length });
        // Found on the destination the way it lists referrers (API on Wharf, fallback tag on
        // docker-registry, which the engine maintained).
        const listed = await to.referrers(name, subject.digest);
        expect(listed.source).toBe(direction === 'wharf-to-docker' ? 'tag-schema' : 'api');
        expect(listed.descriptors).toEqual([expect.objectContaining(descriptor)]);

        const again = await copyArtifact(request(name, 'signed', { tag: 'signed' }));
        expect(again).toMatchObject({ referrersCopied: 0, manifestsCopied: 0, bytesSent: 0 });
        expect((await to.referrers(name, subject.digest)).descriptors).toHaveLength(1);

        const without = await copyArtifact(
          request(name, 'signed', { name: repo('unsigned'), tag: 'x' }, { copyReferrers: false }),
        );
        expect(without.referrersCopied).toBe(0);
        expect((await to.referrers(repo('unsigned'), subject.digest)).descriptors).toEqual([]);
      });

      it('mounts from another repository of the destination instead of uploading', async () => {
        const { from } = ends();
        const name = repo('mount-a');
        const image = await generateImage(
          layout,
          presets.small({ tag: 'm', seed: `${run}-${direction}-mount` }),
        );
        await pushGenerated(from, name, image);
        expect((await copyArtifact(request(name, 'm', { tag: 'm' }))).blobsCopied).toBe(4);
        const lines: string[] = [];
        const mounted = await copyArtifact(
          request(
            name,
            'm',
            { name: repo('mount-b'), tag: 'm' },
            { mountFrom: [name], log: (l) => lines.push(l) },
          ),
        );
        expect(mounted).toMatchObject({ blobsMounted: 4, blobsCopied: 0, bytesSent: 0, manifestsCopied: 1 });
        expect(lines.filter((l) => l.includes('mounted from'))).toHaveLength(4);
      });

      it('with override=false leaves a destination tag that points elsewhere, and says so', async () => {
        const { from, to } = ends();
        const name = repo('override');
        const ours = await pushTestImage(from, name, 'release');
        const theirs = await pushTestImage(to, name, 'release');
        const skipped = await copyArtifact(request(name, 'release', { tag: 'release' }, { override: false }));
        expect(skipped).toMatchObject({ digest: ours.digest, tagSkipped: true, tagged: false, bytesSent: 0 });
        expect(skipped.manifestsCopied).toBe(0);
        expect((await to.headManifest(name, 'release'))?.digest).toBe(theirs.digest);
        // With override (Harbor's default) the tag moves.
        const moved = await copyArtifact(request(name, 'release', { tag: 'release' }));
        expect(moved).toMatchObject({ tagSkipped: false, tagged: true });
        expect((await to.headManifest(name, 'release'))?.digest).toBe(ours.digest);
      });
    });
  }
});
