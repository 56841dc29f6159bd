import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerRegistry, type DockerRegistryHandle } from '../helpers/docker-registry.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { DEFAULT_TEST_PROJECTS } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/poll.js';
import { RemoteRegistry } from '../../src/remote/index.js';
import { CopyError, copyArtifact } from '../../src/replication/copy/index.js';
import { pushTestImage } from './remote-registry-fixtures.js';

// The copy engine when things go wrong, with real registries and a TCP proxy in between: a chunk
// cut midway (Wharf resumes from its offset, docker-registry starts the blob again), a source
// that flips a byte (refused, nothing left behind), a stop through the signal, and the bandwidth
// limit holding bytes back. Nothing is timed: what happened is counted in bytes at a proxy. Wharf
// is built in the test process, docker-registry runs as a process.
// Database-independent: run once.

describe.runIf(process.env.WHARF_TEST_DATABASE !== 'postgres')('copy engine under faults', () => {
  let wharf: InProcessWharf;
  let docker: DockerRegistryHandle;
  let wharfClient: RemoteRegistry;
  let dockerClient: RemoteRegistry;
  const closing: Array<{ close(): Promise<void> }> = [];
  const run = randomBytes(3).toString('hex');
  let n = 0;
  const repo = (label: string) => `test/copy-faults-${run}/${label}-${++n}`;

  const wharfAt = (url: string) => {
    const client = new RemoteRegistry({
      url,
      type: 'harbor',
      credential: { type: 'basic', accessKey: wharf.adminUser, accessSecret: wharf.adminPassword },
    });
    closing.push(client);
    return client;
  };
  const dockerAt = (url: string) => {
    const client = new RemoteRegistry({ url, type: 'docker-registry' });
    closing.push(client);
    return client;
  };
  const proxy = async (port: number, options: Parameters<typeof startTcpProxy>[1]): Promise<TcpProxy> => {
    const p = await startTcpProxy(port, options);
    closing.push(p);
    return p;
  };
  const digestOfBlob = async (client: RemoteRegistry, name: string, digest: string) => {
    const hash = createHash('sha256');
    for await (const chunk of (await client.openBlob(name, digest)).stream as AsyncIterable<Buffer>)
      hash.update(chunk);
    return `sha256:${hash.digest('hex')}`;
  };

  beforeAll(async () => {
    [wharf, docker] = await Promise.all([
      startInProcessWharf({}, { projects: DEFAULT_TEST_PROJECTS }),
      startDockerRegistry(),
    ]);
    wharfClient = wharfAt(wharf.url);
    dockerClient = dockerAt(docker.url);
  });
  afterAll(async () => {
    await Promise.all(closing.map((c) => c.close()));
    await Promise.all([wharf?.close(), docker?.stop()]);
  });

  it('resumes an interrupted chunk from the offset Wharf reports', async () => {
    const name = repo('resume');
    const image = await pushTestImage(dockerClient, name, 'v1', 3 * 1024 * 1024);
    const cut = await proxy(wharf.port, { cutPatchAfter: 1536 * 1024 });
    const lines: string[] = [];
    const result = await copyArtifact({
      source: { registry: dockerClient, repository: name, reference: 'v1' },
      destination: { registry: wharfAt(cut.url), repository: name, tag: 'v1' },
      options: { byChunk: true, chunkBytes: 1024 * 1024, backoffMs: 50, log: (l) => lines.push(l) },
    });
    expect(cut.cuts()).toBe(1);
    expect(result).toMatchObject({ digest: image.digest, resumes: 1, restarts: 0, blobsCopied: 2 });
    // Resumed at least from the first chunk that had been committed, not from zero.
    const resumedAt = Number(/resuming at offset (\d+)/.exec(lines.join('\n'))?.[1]);
    expect(resumedAt).toBeGreaterThanOrEqual(1024 * 1024);
    // At most the broken chunk again (it was read into the request whole), never the blob again.
    expect(result.bytesSent).toBeLessThanOrEqual(image.layer.size + image.config.size + 1024 * 1024);
    expect(await digestOfBlob(wharfClient, name, image.layer.digest)).toBe(image.layer.digest);
    expect((await wharfClient.headManifest(name, 'v1'))?.digest).toBe(image.digest);
  });

  it('starts the blob again when docker-registry cannot resume the broken upload', async () => {
    const name = repo('restart');
    const image = await pushTestImage(wharfClient, name, 'v1', 3 * 1024 * 1024);
    const cut = await proxy(docker.port, { cutPatchAfter: 1536 * 1024 });
    const result = await copyArtifact({
      source: { registry: wharfClient, repository: name, reference: 'v1' },
      destination: { registry: dockerAt(cut.url), repository: name, tag: 'v1' },
      options: { byChunk: true, chunkBytes: 1024 * 1024, backoffMs: 50 },
    });
    expect(cut.cuts()).toBe(1);
    expect(result).toMatchObject({ digest: image.digest, restarts: 1, blobsCopied: 2 });
    expect(result.bytesSent).toBeGreaterThan(image.layer.size);
    expect(await digestOfBlob(dockerClient, name, image.layer.digest)).toBe(image.layer.digest);
    expect((await dockerClient.headManifest(name, 'v1'))?.digest).toBe(image.digest);
  });

  it('refuses a corrupted source with a digest error and leaves no blob behind', async () => {
    const name = repo('corrupt');
    const image = await pushTestImage(dockerClient, name, 'v1', 256 * 1024);
    const flip = await proxy(docker.port, { corruptBlobAt: 100_000 });
    const err = await copyArtifact({
      source: { registry: dockerAt(flip.url), repository: name, reference: 'v1' },
      destination: { registry: wharfClient, repository: name, tag: 'v1' },
      options: { backoffMs: 50 },
    }).catch((e: unknown) => e);
    expect(flip.corrupted()).toBeGreaterThanOrEqual(1);
    expect(err).toBeInstanceOf(CopyError);
    expect((err as CopyError).kind).toBe('integrity');
    expect((err as CopyError).side).toBe('source');
    expect((err as CopyError).retryable).toBe(false);
    expect((err as CopyError).message).toMatch(/not to the digest/);
    expect(await wharfClient.statBlob(name, image.layer.digest)).toBeNull();
    expect(await wharfClient.headManifest(name, image.digest)).toBeNull();
    expect(await wharfClient.headManifest(name, 'v1')).toBeNull();
  });

  it('stops promptly when the signal aborts', async () => {
    const name = repo('abort');
    const image = await pushTestImage(dockerClient, name, 'v1', 1024 * 1024);
    const controller = new AbortController();
    // Through a proxy that counts the upload's bytes, so the abort lands mid-layer.
    const counted = await proxy(wharf.port, {});
    // 64 KB/s: the layer alone would take 16 s.
    const copying = copyArtifact({
      source: { registry: dockerClient, repository: name, reference: 'v1' },
      destination: { registry: wharfAt(counted.url), repository: name, tag: 'v1' },
      options: { speedKbps: 64, signal: controller.signal },
    }).catch((e: unknown) => e);
    // More than the config's bytes have gone up: the layer is streaming.
    await waitFor('layer bytes on their way to Wharf', async () => counted.patchBytes() > image.config.size);
    const sentAtAbort = counted.patchBytes();
    controller.abort();
    const err = await copying;
    expect(err).toBeInstanceOf(CopyError);
    expect((err as CopyError).kind).toBe('aborted');
    // Promptly: the copy ended with most of the layer unsent, at most the read in flight at the
    // abort (one socket read, 64 KiB) going up after it; ignoring the signal would send it all.
    expect(counted.patchBytes() - sentAtAbort).toBeLessThanOrEqual(64 * 1024);
    expect(counted.patchBytes()).toBeLessThan(image.config.size + image.layer.size / 2);
    expect(await wharfClient.statBlob(name, image.layer.digest)).toBeNull();
    expect(await wharfClient.headManifest(name, 'v1')).toBeNull();
  });

  it('holds bytes back to the speed limit: each read of the layer waits for its share of time', async () => {
    const name = repo('speed');
    const image = await pushTestImage(dockerClient, name, 'v1', 512 * 1024);
    const counted = await proxy(wharf.port, {});
    const controller = new AbortController();
    // 16 KB/s: a read of the layer (at most 64 KiB) passes only once its time is paid, so when
    // the first layer bytes show at the proxy the rest waits, seconds away. Without the limit the
    // whole layer would be up (and the copy done) before the test saw its first bytes.
    const copying = copyArtifact({
      source: { registry: dockerClient, repository: name, reference: 'v1' },
      destination: { registry: wharfAt(counted.url), repository: name, tag: 'v1' },
      options: { speedKbps: 16, signal: controller.signal },
    }).catch((e: unknown) => e);
    await waitFor(
      'layer bytes on their way to Wharf',
      async () => counted.patchBytes() > image.config.size,
      60_000,
      20,
    );
    controller.abort();
    const err = await copying;
    expect(err).toBeInstanceOf(CopyError);
    expect((err as CopyError).kind).toBe('aborted');
    expect(counted.patchBytes() - image.config.size).toBeLessThanOrEqual(64 * 1024);
    expect(await wharfClient.statBlob(name, image.layer.digest)).toBeNull();
  });

  it('a limited copy sends every byte once and arrives whole', async () => {
    const name = repo('speed-whole');
    const image = await pushTestImage(dockerClient, name, 'v1', 256 * 1024);
    const result = await copyArtifact({
      source: { registry: dockerClient, repository: name, reference: 'v1' },
      destination: { registry: wharfClient, repository: name, tag: 'v1' },
      options: { speedKbps: 4096 },
    });
    expect(result).toMatchObject({ digest: image.digest, blobsCopied: 2, resumes: 0, restarts: 0 });
    expect(result.bytesSent).toBe(image.layer.size + image.config.size);
    expect(await digestOfBlob(wharfClient, name, image.layer.digest)).toBe(image.layer.digest);
  });
});
