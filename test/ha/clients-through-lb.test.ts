import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TempDirs, sha256, verifyLayoutImage } from '../e2e/support.js';
import { generateImage, ociReference, presets } from '../fixtures/image-generator.js';
import {
  createBuildah,
  createPodman,
  skopeoCopy,
  skopeoInspectRaw,
  type BuildahClient,
  type PodmanClient,
} from '../helpers/clients.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import type { AccessLogEntry } from '../helpers/load-balancer.js';
import { digestOf, expectStatus } from '../helpers/oci-client.js';

// Three instances on one PostgreSQL, one storage directory and one Redis, behind nginx round
// robin (deploy/nginx/wharf.conf, no stickiness). Real clients push and pull through nginx; the
// access log (which logs each response's X-Wharf-Instance) shows that the requests of one upload
// were answered by different instances, and that every instance took part. An explicit chunked
// upload checks, from the response headers, that consecutive chunks reached different instances.

let cluster: Cluster;
let podman: PodmanClient | undefined;
let buildah: BuildahClient | undefined;
const dirs = new TempDirs();

beforeAll(async () => {
  cluster = await startCluster({ instances: 3, redis: 'plain', loadBalancer: 'nginx' });
});

afterAll(async () => {
  await podman?.dispose();
  await buildah?.dispose();
  await dirs.removeAll();
  await cluster?.stop();
});

const UPLOAD_PATH = /^\/v2\/(.+)\/blobs\/uploads\/([0-9a-zA-Z-]+)$/;

/** Access-log entries of session uploads (PATCH/PUT/GET/DELETE on …/blobs/uploads/UUID), by UUID. */
function uploadsById(entries: AccessLogEntry[]): Map<string, AccessLogEntry[]> {
  const byId = new Map<string, AccessLogEntry[]>();
  for (const entry of entries) {
    const m = UPLOAD_PATH.exec(entry.path);
    if (!m?.[2]) continue;
    byId.set(m[2], [...(byId.get(m[2]) ?? []), entry]);
  }
  return byId;
}

/** Uploads of `repository` whose requests were answered by more than one instance. */
function spreadUploads(entries: AccessLogEntry[], repository: string): Array<[string, AccessLogEntry[]]> {
  const ofRepo = entries.filter((e) => e.path.startsWith(`/v2/${repository}/blobs/uploads/`));
  return [...uploadsById(ofRepo)].filter(([, reqs]) => new Set(reqs.map((r) => r.instance)).size > 1);
}

describe('clients through nginx in front of three instances', () => {
  test('skopeo pushes and pulls through nginx; one upload is served by several instances', async () => {
    const layout = await dirs.make('skopeo-layout');
    const image = await generateImage(layout, {
      ...presets.small({ tag: 'v1', seed: 'ha-skopeo' }),
      // More blobs, so that skopeo's uploads give round robin something to spread.
      layers: Array.from({ length: 6 }, (_, i) => ({ sizeBytes: 64 * 1024 + i * 4096, files: 2 })),
    });
    const repository = 'test/ha-skopeo';
    await skopeoCopy(ociReference(layout, 'v1'), cluster.ref(repository, 'v1'), {
      creds: cluster.creds,
      preserveDigests: true,
      freshBlobInfoCache: true,
    });
    expect(sha256(await skopeoInspectRaw(cluster.ref(repository, 'v1'), { creds: cluster.creds }))).toBe(
      image.digest,
    );

    const back = await dirs.make('skopeo-back');
    await skopeoCopy(cluster.ref(repository, 'v1'), ociReference(back, 'v1'), {
      creds: cluster.creds,
      preserveDigests: true,
    });
    const reached = await verifyLayoutImage(back, 'v1');
    expect(reached.sort()).toEqual(
      [image.digest, image.config.digest, ...image.layers.map((l) => l.digest)].sort(),
    );

    const log = await cluster.accessLog();
    const spread = spreadUploads(log, repository);
    expect(spread.length, 'uploads of one session answered by more than one instance').toBeGreaterThan(0);
    for (const [id, reqs] of spread) {
      // Each of those uploads finished: its PUT was answered 201 (by whichever instance).
      expect(
        reqs.some((r) => r.method === 'PUT' && r.status === 201),
        `${id}: ${JSON.stringify(reqs)}`,
      ).toBe(true);
    }
    console.log(
      `skopeo: ${spread.length} upload session(s) spread over instances, e.g. ` +
        JSON.stringify(spread[0]?.[1].map((r) => `${r.method} ${r.status} ${r.instance}`)),
    );
  });

  test('podman pushes and pulls through nginx: same digest back', async () => {
    podman = await createPodman();
    const layout = await dirs.make('podman-layout');
    const image = await generateImage(layout, presets.small({ tag: 'v1', seed: 'ha-podman' }));
    const id = await podman.pull(ociReference(layout, 'v1'));
    expect(id).toBe(image.config.digest.replace(/^sha256:/, ''));
    const repository = 'test/ha-podman';
    const pushed = await podman.push(id, cluster.ref(repository, 'v1'), {
      creds: cluster.creds,
      freshBlobInfoCache: true,
    });
    expect(pushed).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(sha256(await skopeoInspectRaw(cluster.ref(repository, 'v1'), { creds: cluster.creds }))).toBe(
      pushed,
    );
    await podman.rmi(id);
    expect(await podman.pull(cluster.ref(repository, 'v1'), { creds: cluster.creds })).toBe(id);
    expect(await podman.imageDigest(id)).toBe(pushed);

    const spread = spreadUploads(await cluster.accessLog(), repository);
    expect(spread.length, 'podman upload sessions answered by more than one instance').toBeGreaterThan(0);
  });

  test('buildah builds from scratch and pushes through nginx; the registry serves its digest', async () => {
    buildah = await createBuildah();
    const work = await dirs.make('buildah');
    const file = join(work, 'payload.bin');
    const payload = randomBytes(512 * 1024);
    await writeFile(file, payload);
    const container = await buildah.from('scratch');
    await buildah.copy(container, file, '/data/payload.bin');
    const imageId = await buildah.commit(container, 'wharf-ha-buildah');
    const repository = 'test/ha-buildah';
    const digest = await buildah.push(imageId, cluster.ref(repository, 'v1'), {
      creds: cluster.creds,
      freshBlobInfoCache: true,
    });
    expect(sha256(await skopeoInspectRaw(cluster.ref(repository, 'v1'), { creds: cluster.creds }))).toBe(
      digest,
    );
    const back = await dirs.make('buildah-back');
    await skopeoCopy(cluster.ref(repository, 'v1'), ociReference(back, 'v1'), {
      creds: cluster.creds,
      preserveDigests: true,
    });
    await verifyLayoutImage(back, 'v1');
    // buildah pushes a layer and a config: both uploads went through the cluster.
    const uploads = uploadsById(
      (await cluster.accessLog()).filter((e) => e.path.startsWith(`/v2/${repository}/blobs/uploads/`)),
    );
    expect(uploads.size).toBeGreaterThanOrEqual(2);
  });

  test('a chunked upload through nginx: consecutive chunks are answered by different instances', async () => {
    const client = cluster.client();
    const repository = 'test/ha-chunked';
    const blob = randomBytes(5 * 256 * 1024 + 123);
    const chunk = 256 * 1024;
    const answeredBy: string[] = [];
    const post = await client.request('POST', `/v2/${repository}/blobs/uploads/`);
    await expectStatus(post, 202);
    answeredBy.push(post.headers.get('x-wharf-instance') ?? '');
    let location = client.location(post);
    for (let offset = 0; offset < blob.length; offset += chunk) {
      const part = blob.subarray(offset, Math.min(offset + chunk, blob.length));
      const res = await client.request('PATCH', location, {
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + part.length - 1}`,
          'content-length': String(part.length),
        },
        body: part,
      });
      await expectStatus(res, 202);
      expect(res.headers.get('range')).toBe(`0-${offset + part.length - 1}`);
      answeredBy.push(res.headers.get('x-wharf-instance') ?? '');
      location = client.location(res);
    }
    const digest = digestOf(blob);
    const put = await client.request(
      'PUT',
      `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`,
    );
    await expectStatus(put, 201);
    expect(put.headers.get('docker-content-digest')).toBe(digest);
    answeredBy.push(put.headers.get('x-wharf-instance') ?? '');

    console.log(`chunked upload answered by: ${answeredBy.join(' → ')}`);
    const names = cluster.instances.map((i) => i.name);
    for (const name of answeredBy) expect(names).toContain(name);
    for (let i = 1; i < answeredBy.length; i++) {
      expect(answeredBy[i], `request ${i} and ${i - 1} of the upload`).not.toBe(answeredBy[i - 1]);
    }
    expect(new Set(answeredBy).size).toBe(3);

    // Every instance serves the assembled blob.
    for (const instance of cluster.instances) {
      const res = await instance.client.request('GET', `/v2/${repository}/blobs/${digest}`);
      await expectStatus(res, 200);
      expect(digestOf(Buffer.from(await res.arrayBuffer()))).toBe(digest);
    }
  });

  test('every instance served requests, and nothing through nginx failed with a server error', async () => {
    // Lines with method "-" are connections a client opened and closed without a request (nginx
    // logs them as 400); nothing reached an instance.
    const log = (await cluster.accessLog()).filter((e) => e.method !== '-');
    const counts = new Map<string, number>();
    for (const entry of log) counts.set(entry.instance, (counts.get(entry.instance) ?? 0) + 1);
    const unnamed = log.filter((e) => e.instance === '');
    expect(unnamed, 'responses without X-Wharf-Instance').toEqual([]);
    console.log(`requests per instance: ${JSON.stringify(Object.fromEntries(counts))}`);
    for (const instance of cluster.instances) expect(counts.get(instance.name) ?? 0).toBeGreaterThan(10);
    const serverErrors = log.filter((e) => e.status >= 500);
    expect(serverErrors, JSON.stringify(serverErrors.slice(0, 5))).toEqual([]);
  });
});
