import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  descriptorOf,
  digestOf,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  expectOciError,
  expectStatus,
  imageIndex,
  imageManifest,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  uniqueRepo,
  useTestRegistry,
  type Descriptor,
  type PushedImage,
} from '../helpers/oci-client.js';

// Manifests: the four media types, PUT/GET/HEAD/DELETE by tag and digest, content negotiation,
// the size limit, and every way a manifest can be refused.

const MiB = 1024 * 1024;

const { client } = useTestRegistry();

async function getManifest(repo: string, reference: string, accept?: string): Promise<Response> {
  return client.request('GET', `/v2/${repo}/manifests/${reference}`, {
    headers: accept === undefined ? {} : { accept },
  });
}

/** GET and HEAD by `reference` both describe `image` exactly. */
async function expectServed(repo: string, reference: string, image: PushedImage): Promise<void> {
  const get = await getManifest(repo, reference);
  await expectStatus(get, 200);
  expect(get.headers.get('content-type')).toBe(image.mediaType);
  expect(get.headers.get('docker-content-digest')).toBe(image.digest);
  expect(get.headers.get('content-length')).toBe(String(image.bytes.length));
  expect(Buffer.from(await get.arrayBuffer()).equals(image.bytes)).toBe(true);

  const head = await client.request('HEAD', `/v2/${repo}/manifests/${reference}`);
  expect(head.status).toBe(200);
  expect(head.headers.get('content-type')).toBe(image.mediaType);
  expect(head.headers.get('docker-content-digest')).toBe(image.digest);
  expect(head.headers.get('content-length')).toBe(String(image.bytes.length));
  expect((await head.arrayBuffer()).byteLength).toBe(0);
}

async function putRaw(
  repo: string,
  reference: string,
  body: Uint8Array | string,
  contentType?: string,
): Promise<Response> {
  return client.request('PUT', `/v2/${repo}/manifests/${reference}`, {
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    body,
  });
}

/** Pushes one config and one layer and returns their descriptors, for hand-made manifests. */
async function blobsFor(repo: string): Promise<{ config: Descriptor; layers: Descriptor[] }> {
  const config = Buffer.from(JSON.stringify({ os: 'linux', nonce: randomBytes(4).toString('hex') }));
  const layer = randomBytes(300);
  return {
    config: { mediaType: OCI_CONFIG, digest: await client.pushBlob(repo, config), size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: await client.pushBlob(repo, layer), size: layer.length }],
  };
}

function unknownDescriptor(mediaType = OCI_LAYER): Descriptor {
  const bytes = randomBytes(20);
  return { mediaType, digest: digestOf(bytes), size: bytes.length };
}

describe('image manifests', () => {
  it('OCI: PUT by tag is 201 with Location and Docker-Content-Digest; GET and HEAD by tag and digest', async () => {
    const repo = uniqueRepo('man');
    const blobs = await blobsFor(repo);
    const bytes = imageManifest({ ...blobs });
    const res = await putRaw(repo, 'v1', bytes, OCI_MANIFEST);
    await expectStatus(res, 201);
    const digest = digestOf(bytes);
    expect(res.headers.get('location')).toBe(`/v2/${repo}/manifests/${digest}`);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(res.headers.get('oci-subject')).toBeNull();

    const image: PushedImage = { digest, bytes, mediaType: OCI_MANIFEST, ...blobs };
    await expectServed(repo, 'v1', image);
    await expectServed(repo, digest, image);
  });

  it('Docker schema 2: stored and served with its own media type', async () => {
    const repo = uniqueRepo('man');
    const image = await client.pushImage(repo, 'latest', { format: 'docker', layers: 2 });
    expect(image.mediaType).toBe(DOCKER_MANIFEST);
    await expectServed(repo, 'latest', image);
    await expectServed(repo, image.digest, image);
  });

  it('PUT by digest creates no tag', async () => {
    const repo = uniqueRepo('man');
    const blobs = await blobsFor(repo);
    const bytes = imageManifest(blobs);
    const digest = await client.putManifest(repo, digestOf(bytes), bytes, OCI_MANIFEST);
    await expectServed(repo, digest, { digest, bytes, mediaType: OCI_MANIFEST, ...blobs });
    const tags = await client.request('GET', `/v2/${repo}/tags/list`);
    expect(await tags.json()).toEqual({ name: repo, tags: [] });
  });

  it('the bytes are kept exactly as pushed (whitespace, key order)', async () => {
    const repo = uniqueRepo('man');
    const blobs = await blobsFor(repo);
    const bytes = Buffer.from(
      `{"layers":${JSON.stringify(blobs.layers)},   "config":${JSON.stringify(blobs.config)},\n"schemaVersion":2}\n`,
    );
    const digest = await client.putManifest(repo, 'odd', bytes, OCI_MANIFEST);
    const res = await getManifest(repo, 'odd');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
  });

  it('pushing the same manifest twice is idempotent; pushing another one moves the tag', async () => {
    const repo = uniqueRepo('man');
    const first = await client.pushImage(repo, 'moving');
    await client.putManifest(repo, 'moving', first.bytes, first.mediaType);
    await expectServed(repo, 'moving', first);
    const second = await client.pushImage(repo, 'moving');
    await expectServed(repo, 'moving', second);
    // The first one is still there by digest.
    await expectServed(repo, first.digest, first);
  });

  it('a Content-Type with parameters is accepted and stored without them', async () => {
    const repo = uniqueRepo('man');
    const blobs = await blobsFor(repo);
    const bytes = imageManifest(blobs);
    await expectStatus(await putRaw(repo, 'p', bytes, `${OCI_MANIFEST}; charset=utf-8`), 201);
    expect((await getManifest(repo, 'p')).headers.get('content-type')).toBe(OCI_MANIFEST);
  });

  it('without a Content-Type the mediaType field decides; without either, an OCI manifest is assumed', async () => {
    const repo = uniqueRepo('man');
    const blobs = await blobsFor(repo);
    const docker = imageManifest({ ...blobs, mediaType: DOCKER_MANIFEST });
    await expectStatus(await putRaw(repo, 'docker', docker), 201);
    expect((await getManifest(repo, 'docker')).headers.get('content-type')).toBe(DOCKER_MANIFEST);

    const untyped = imageManifest({ ...blobs, mediaType: null });
    await expectStatus(await putRaw(repo, 'untyped', untyped), 201);
    expect((await getManifest(repo, 'untyped')).headers.get('content-type')).toBe(OCI_MANIFEST);
  });

  it('a foreign layer with URLs need not be pushed', async () => {
    const repo = uniqueRepo('man');
    const { config } = await blobsFor(repo);
    const foreign = {
      ...unknownDescriptor('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'),
      urls: ['https://example.invalid/layer.tar.gz'],
    };
    const bytes = imageManifest({ mediaType: DOCKER_MANIFEST, config, layers: [foreign] });
    await expectStatus(await putRaw(repo, 'foreign', bytes, DOCKER_MANIFEST), 201);
  });
});

describe('image indexes and manifest lists', () => {
  it('OCI index over two platform images', async () => {
    const repo = uniqueRepo('idx');
    const amd = await client.pushImage(repo, freshTag(), { architecture: 'amd64' });
    const arm = await client.pushImage(repo, freshTag(), { architecture: 'arm64' });
    const bytes = imageIndex([
      descriptorOf(amd, { architecture: 'amd64', os: 'linux' }),
      descriptorOf(arm, { architecture: 'arm64', os: 'linux' }),
    ]);
    const digest = await client.putManifest(repo, 'multi', bytes, OCI_INDEX);
    const index: PushedImage = { digest, bytes, mediaType: OCI_INDEX, config: amd.config, layers: [] };
    await expectServed(repo, 'multi', index);
    await expectServed(repo, digest, index);
    // The children stay reachable by digest.
    await expectServed(repo, amd.digest, amd);
  });

  it('Docker manifest list over Docker images', async () => {
    const repo = uniqueRepo('idx');
    const amd = await client.pushImage(repo, 'amd', { format: 'docker', architecture: 'amd64' });
    const arm = await client.pushImage(repo, 'arm', { format: 'docker', architecture: 'arm64' });
    const bytes = imageIndex(
      [
        descriptorOf(amd, { architecture: 'amd64', os: 'linux' }),
        descriptorOf(arm, { architecture: 'arm64', os: 'linux' }),
      ],
      { mediaType: DOCKER_LIST },
    );
    const digest = await client.putManifest(repo, 'list', bytes, DOCKER_LIST);
    await expectServed(repo, 'list', {
      digest,
      bytes,
      mediaType: DOCKER_LIST,
      config: amd.config,
      layers: [],
    });
  });

  it('an index with a child the repository does not have is 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const repo = uniqueRepo('idx');
    const known = await client.pushImage(repo, 'known');
    const elsewhere = await client.pushImage(uniqueRepo('idx'), 'other');
    const missing = unknownDescriptor(OCI_MANIFEST);
    for (const child of [missing, descriptorOf(elsewhere)]) {
      const bytes = imageIndex([descriptorOf(known), child]);
      const body = await expectOciError(
        await putRaw(repo, 'bad', bytes, OCI_INDEX),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      expect(JSON.stringify(body.errors[0]?.detail)).toContain(child.digest);
    }
    await expectOciError(await getManifest(repo, 'bad'), 404, 'MANIFEST_UNKNOWN');
  });

  it('an index whose child is a blob, not a manifest, is refused too', async () => {
    const repo = uniqueRepo('idx');
    const image = await client.pushImage(repo, 'img');
    const layer = image.layers[0] as Descriptor;
    const bytes = imageIndex([{ ...layer, mediaType: OCI_MANIFEST }]);
    await expectOciError(await putRaw(repo, 'bad', bytes, OCI_INDEX), 400, 'MANIFEST_BLOB_UNKNOWN');
  });
});

/** A fresh tag name, for images that only need to exist. */
function freshTag(): string {
  return `t-${randomBytes(4).toString('hex')}`;
}

describe('content negotiation', () => {
  it('serves the stored type when Accept lists it, a wildcard, or no manifest type at all', async () => {
    const repo = uniqueRepo('neg');
    const image = await client.pushImage(repo, 'v1');
    for (const accept of [
      OCI_MANIFEST,
      `${DOCKER_MANIFEST}, ${OCI_MANIFEST}`,
      `${DOCKER_MANIFEST};q=0.9, ${OCI_MANIFEST};q=0.5`,
      `${OCI_INDEX}, ${OCI_MANIFEST}`,
      '*/*',
      'application/json',
      '',
    ]) {
      const res = await getManifest(repo, 'v1', accept);
      await expectStatus(res, 200);
      expect(res.headers.get('content-type'), accept).toBe(OCI_MANIFEST);
      expect(res.headers.get('docker-content-digest'), accept).toBe(image.digest);
    }
  });

  it('a manifest whose type the client does not accept is 404 MANIFEST_UNKNOWN (GET and HEAD)', async () => {
    const repo = uniqueRepo('neg');
    const oci = await client.pushImage(repo, 'oci');
    const docker = await client.pushImage(repo, 'docker', { format: 'docker' });
    await expectOciError(await getManifest(repo, 'oci', DOCKER_MANIFEST), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await getManifest(repo, docker.digest, OCI_MANIFEST), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(
      await getManifest(repo, oci.digest, `${OCI_INDEX}, ${DOCKER_LIST}`),
      404,
      'MANIFEST_UNKNOWN',
    );
    const head = await client.request('HEAD', `/v2/${repo}/manifests/oci`, {
      headers: { accept: DOCKER_MANIFEST },
    });
    expect(head.status).toBe(404);
  });
});

describe('manifest size limit', () => {
  /** An OCI manifest of exactly `size` bytes, padded in a config descriptor annotation. */
  function manifestOfSize(blobs: { config: Descriptor; layers: Descriptor[] }, size: number): Buffer {
    const empty = imageManifest({ ...blobs, config: { ...blobs.config, annotations: { pad: '' } } });
    const padded = imageManifest({
      ...blobs,
      config: { ...blobs.config, annotations: { pad: 'x'.repeat(size - empty.length) } },
    });
    expect(padded.length).toBe(size);
    return padded;
  }

  it('accepts a manifest of 4 MiB and one just under it, and serves them back', async () => {
    const repo = uniqueRepo('big');
    const blobs = await blobsFor(repo);
    for (const size of [4 * MiB - 1, 4 * MiB]) {
      const bytes = manifestOfSize(blobs, size);
      const digest = await client.putManifest(repo, `s${size}`, bytes, OCI_MANIFEST);
      const res = await getManifest(repo, digest);
      await expectStatus(res, 200);
      expect(res.headers.get('content-length')).toBe(String(size));
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
  });

  it('a manifest over 4 MiB is 413, declared or streamed', async () => {
    const repo = uniqueRepo('big');
    const blobs = await blobsFor(repo);
    const bytes = manifestOfSize(blobs, 4 * MiB + 1);
    await expectOciError(await putRaw(repo, 'toobig', bytes, OCI_MANIFEST), 413, 'SIZE_INVALID');
    const streamed = await client.request('PUT', `/v2/${repo}/manifests/toobig`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: new ReadableStream({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 256 * 1024)
            controller.enqueue(bytes.subarray(at, at + 256 * 1024));
          controller.close();
        },
      }),
    });
    await expectOciError(streamed, 413, 'SIZE_INVALID');
    await expectOciError(await getManifest(repo, 'toobig'), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('refused manifests', () => {
  it('layers or config the repository does not have are 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const repo = uniqueRepo('ref');
    const blobs = await blobsFor(repo);
    const elsewhere = await blobsFor(uniqueRepo('ref'));
    const cases: Array<[string, Buffer, string]> = [];
    const missingLayer = unknownDescriptor();
    cases.push([
      'missing layer',
      imageManifest({ ...blobs, layers: [...blobs.layers, missingLayer] }),
      missingLayer.digest,
    ]);
    const missingConfig = unknownDescriptor(OCI_CONFIG);
    cases.push(['missing config', imageManifest({ ...blobs, config: missingConfig }), missingConfig.digest]);
    const foreignLayer = elsewhere.layers[0] as Descriptor;
    cases.push([
      'layer of another repository',
      imageManifest({ ...blobs, layers: [foreignLayer] }),
      foreignLayer.digest,
    ]);
    for (const [what, bytes, digest] of cases) {
      const body = await expectOciError(
        await putRaw(repo, 'bad', bytes, OCI_MANIFEST),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      expect(JSON.stringify(body.errors[0]?.detail), what).toContain(digest);
    }
    await expectOciError(await getManifest(repo, 'bad'), 404, 'MANIFEST_UNKNOWN');
  });

  it('a manifest with missing blobs pushed to a new repository does not create it', async () => {
    const repo = uniqueRepo('ref');
    const bytes = imageManifest({ config: unknownDescriptor(OCI_CONFIG), layers: [unknownDescriptor()] });
    await expectOciError(await putRaw(repo, 'v1', bytes, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
    await expectOciError(await client.request('GET', `/v2/${repo}/tags/list`), 404, 'NAME_UNKNOWN');
  });

  it('malformed manifests are 400 MANIFEST_INVALID', async () => {
    const repo = uniqueRepo('ref');
    const blobs = await blobsFor(repo);
    const good = JSON.parse(imageManifest(blobs).toString()) as Record<string, unknown>;
    const cases: Array<[string, string, string | undefined]> = [
      ['not JSON', '{"schemaVersion": 2,', OCI_MANIFEST],
      ['empty body', '', OCI_MANIFEST],
      ['a JSON array', '[]', OCI_MANIFEST],
      ['schemaVersion 1', JSON.stringify({ ...good, schemaVersion: 1 }), OCI_MANIFEST],
      ['schemaVersion "2"', JSON.stringify({ ...good, schemaVersion: '2' }), OCI_MANIFEST],
      ['no schemaVersion', JSON.stringify({ ...good, schemaVersion: undefined }), OCI_MANIFEST],
      ['mediaType differs from Content-Type', JSON.stringify(good), DOCKER_MANIFEST],
      ['index type for an image', JSON.stringify({ ...good, mediaType: OCI_INDEX }), OCI_INDEX],
      ['unknown media type', JSON.stringify({ ...good, mediaType: 'application/x-nope' }), undefined],
      ['no config', JSON.stringify({ ...good, config: undefined }), OCI_MANIFEST],
      ['layers not an array', JSON.stringify({ ...good, layers: {} }), OCI_MANIFEST],
      ['no layers', JSON.stringify({ ...good, layers: undefined }), OCI_MANIFEST],
      [
        'bad layer digest',
        JSON.stringify({ ...good, layers: [{ ...blobs.layers[0], digest: 'sha256:1' }] }),
        OCI_MANIFEST,
      ],
      [
        'negative size',
        JSON.stringify({ ...good, layers: [{ ...blobs.layers[0], size: -1 }] }),
        OCI_MANIFEST,
      ],
      ['index without manifests', JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX }), OCI_INDEX],
    ];
    for (const [what, body, contentType] of cases) {
      const res = await putRaw(repo, 'bad', body, contentType);
      expect(res.status, what).toBe(400);
      await expectOciError(res, 400, 'MANIFEST_INVALID');
    }
    await expectOciError(await getManifest(repo, 'bad'), 404, 'MANIFEST_UNKNOWN');
  });

  it('PUT by a digest that does not match the body is 400 DIGEST_INVALID', async () => {
    const repo = uniqueRepo('ref');
    const blobs = await blobsFor(repo);
    const bytes = imageManifest(blobs);
    const wrong = digestOf(Buffer.concat([bytes, Buffer.from(' ')]));
    await expectOciError(await putRaw(repo, wrong, bytes, OCI_MANIFEST), 400, 'DIGEST_INVALID');
    await expectOciError(await putRaw(repo, 'sha256:abc', bytes, OCI_MANIFEST), 400, 'DIGEST_INVALID');
    await expectOciError(await getManifest(repo, wrong), 404, 'MANIFEST_UNKNOWN');
  });

  it('methods the manifest endpoint does not have are 405 UNSUPPORTED', async () => {
    const repo = uniqueRepo('ref');
    await client.pushImage(repo, 'v1');
    for (const method of ['POST', 'PATCH']) {
      const res = await client.request(method, `/v2/${repo}/manifests/v1`);
      expect(res.headers.get('allow')).toBe('GET, HEAD, PUT, DELETE');
      await expectOciError(res, 405, 'UNSUPPORTED');
    }
  });
});

describe('manifests by sha512 digest', () => {
  it('layers, config and the manifest addressed by sha512 end to end', async () => {
    const repo = uniqueRepo('sha512');
    const config = Buffer.from('{"os":"linux"}');
    const layer = randomBytes(700);
    const configDescriptor = {
      mediaType: OCI_CONFIG,
      digest: await client.pushBlob(repo, config, 'sha512'),
      size: config.length,
    };
    const layerDescriptor = {
      mediaType: OCI_LAYER,
      digest: await client.pushBlob(repo, layer, 'sha512'),
      size: layer.length,
    };
    const bytes = imageManifest({ config: configDescriptor, layers: [layerDescriptor] });
    const digest = digestOf(bytes, 'sha512');

    const put = await client.request('PUT', `/v2/${repo}/manifests/${digest}?tag=v512`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: bytes,
    });
    await expectStatus(put, 201);
    expect(put.headers.get('docker-content-digest')).toBe(digest);
    expect(put.headers.get('location')).toBe(`/v2/${repo}/manifests/${digest}`);

    const image: PushedImage = {
      digest,
      bytes,
      mediaType: OCI_MANIFEST,
      config: configDescriptor,
      layers: [layerDescriptor],
    };
    await expectServed(repo, digest, image);
    await expectServed(repo, 'v512', image);
    const blob = await client.request('GET', `/v2/${repo}/blobs/${layerDescriptor.digest}`);
    await expectStatus(blob, 200);
    expect(Buffer.from(await blob.arrayBuffer()).equals(layer)).toBe(true);

    await expectStatus(await client.request('DELETE', `/v2/${repo}/manifests/${digest}`), 202);
    await expectOciError(await getManifest(repo, 'v512'), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('tags on push and delete', () => {
  it('PUT by digest with ?tag=a&tag=b applies both tags', async () => {
    const repo = uniqueRepo('tags');
    const blobs = await blobsFor(repo);
    const bytes = imageManifest(blobs);
    const digest = digestOf(bytes);
    const res = await client.request('PUT', `/v2/${repo}/manifests/${digest}?tag=a&tag=b`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: bytes,
    });
    await expectStatus(res, 201);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    const tags = await client.request('GET', `/v2/${repo}/tags/list`);
    expect(await tags.json()).toEqual({ name: repo, tags: ['a', 'b'] });
    for (const tag of ['a', 'b']) {
      expect((await getManifest(repo, tag)).headers.get('docker-content-digest')).toBe(digest);
    }
  });

  it('PUT by tag with ?tag= applies the path tag and the extra ones', async () => {
    const repo = uniqueRepo('tags');
    const blobs = await blobsFor(repo);
    await expectStatus(
      await client.request('PUT', `/v2/${repo}/manifests/main?tag=extra`, {
        headers: { 'content-type': OCI_MANIFEST },
        body: imageManifest(blobs),
      }),
      201,
    );
    const tags = await client.request('GET', `/v2/${repo}/tags/list`);
    expect(await tags.json()).toEqual({ name: repo, tags: ['extra', 'main'] });
  });

  it('an invalid tag, in the path or in ?tag=, is 400 TAG_INVALID and applies nothing', async () => {
    const repo = uniqueRepo('tags');
    const blobs = await blobsFor(repo);
    const bytes = imageManifest(blobs);
    const tooLong = 'x'.repeat(129);
    await expectOciError(await putRaw(repo, tooLong, bytes, OCI_MANIFEST), 400, 'TAG_INVALID');
    await expectOciError(await putRaw(repo, '-dash', bytes, OCI_MANIFEST), 400, 'TAG_INVALID');
    const res = await client.request(
      'PUT',
      `/v2/${repo}/manifests/${digestOf(bytes)}?tag=ok&tag=${tooLong}`,
      {
        headers: { 'content-type': OCI_MANIFEST },
        body: bytes,
      },
    );
    await expectOciError(res, 400, 'TAG_INVALID');
    await expectOciError(await getManifest(repo, 'ok'), 404, 'MANIFEST_UNKNOWN');
  });

  it('DELETE on a tag untags (202); the manifest stays reachable by digest and other tags', async () => {
    const repo = uniqueRepo('tags');
    const image = await client.pushImage(repo, 'one');
    await client.putManifest(repo, 'two', image.bytes, image.mediaType);

    const res = await client.request('DELETE', `/v2/${repo}/manifests/one`);
    await expectStatus(res, 202);
    await expectOciError(await getManifest(repo, 'one'), 404, 'MANIFEST_UNKNOWN');
    expect((await client.request('HEAD', `/v2/${repo}/manifests/one`)).status).toBe(404);
    await expectServed(repo, 'two', image);
    await expectServed(repo, image.digest, image);
    const tags = await client.request('GET', `/v2/${repo}/tags/list`);
    expect(await tags.json()).toEqual({ name: repo, tags: ['two'] });

    await expectOciError(
      await client.request('DELETE', `/v2/${repo}/manifests/one`),
      404,
      'MANIFEST_UNKNOWN',
    );
  });

  it('DELETE by digest removes the manifest and every tag pointing at it', async () => {
    const repo = uniqueRepo('tags');
    const image = await client.pushImage(repo, 'one');
    await client.putManifest(repo, 'two', image.bytes, image.mediaType);
    const keep = await client.pushImage(repo, 'keep');

    const res = await client.request('DELETE', `/v2/${repo}/manifests/${image.digest}`);
    await expectStatus(res, 202);
    for (const reference of [image.digest, 'one', 'two']) {
      await expectOciError(await getManifest(repo, reference), 404, 'MANIFEST_UNKNOWN');
      expect((await client.request('HEAD', `/v2/${repo}/manifests/${reference}`)).status).toBe(404);
    }
    const tags = await client.request('GET', `/v2/${repo}/tags/list`);
    expect(await tags.json()).toEqual({ name: repo, tags: ['keep'] });
    await expectServed(repo, 'keep', keep);

    await expectOciError(
      await client.request('DELETE', `/v2/${repo}/manifests/${image.digest}`),
      404,
      'MANIFEST_UNKNOWN',
    );
    // Pushing it again brings it back.
    await client.putManifest(repo, 'one', image.bytes, image.mediaType);
    await expectServed(repo, 'one', image);
  });
});

describe('unknown manifests', () => {
  it('unknown tags and digests are 404 MANIFEST_UNKNOWN; unknown repositories 404 NAME_UNKNOWN', async () => {
    const repo = uniqueRepo('unk');
    await client.pushImage(repo, 'v1');
    const missing = digestOf(randomBytes(8));
    await expectOciError(await getManifest(repo, 'nope'), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await getManifest(repo, missing), 404, 'MANIFEST_UNKNOWN');
    expect((await client.request('HEAD', `/v2/${repo}/manifests/nope`)).status).toBe(404);
    await expectOciError(
      await client.request('DELETE', `/v2/${repo}/manifests/${missing}`),
      404,
      'MANIFEST_UNKNOWN',
    );

    const nothing = uniqueRepo('unk');
    await expectOciError(await getManifest(nothing, 'v1'), 404, 'NAME_UNKNOWN');
    await expectOciError(await getManifest(nothing, missing), 404, 'NAME_UNKNOWN');
    await expectOciError(await client.request('DELETE', `/v2/${nothing}/manifests/v1`), 404, 'NAME_UNKNOWN');
    expect((await client.request('HEAD', `/v2/${nothing}/manifests/v1`)).status).toBe(404);
  });

  it('a blob digest is not a manifest', async () => {
    const repo = uniqueRepo('unk');
    const image = await client.pushImage(repo, 'v1');
    await expectOciError(await getManifest(repo, image.config.digest), 404, 'MANIFEST_UNKNOWN');
  });

  it('a reference that is neither a tag nor a digest is 404 MANIFEST_UNKNOWN to GET and HEAD, 400 TAG_INVALID to PUT', async () => {
    // The OCI conformance suite reads ".INVALID_MANIFEST_NAME" and expects 404: no such manifest.
    const repo = uniqueRepo('unk');
    const image = await client.pushImage(repo, 'v1');
    for (const reference of ['.INVALID_MANIFEST_NAME', '-dash', 'x'.repeat(129), 'sha256:short', 'md5:abc']) {
      await expectOciError(await getManifest(repo, reference), 404, 'MANIFEST_UNKNOWN');
      const head = await client.request('HEAD', `/v2/${repo}/manifests/${reference}`);
      expect(head.status, reference).toBe(404);
    }
    await expectOciError(
      await putRaw(repo, '.INVALID_MANIFEST_NAME', image.bytes, image.mediaType),
      400,
      'TAG_INVALID',
    );
    await expectOciError(
      await putRaw(repo, 'sha256:short', image.bytes, image.mediaType),
      400,
      'DIGEST_INVALID',
    );
  });

  it('a malformed digest reference is 400 DIGEST_INVALID to DELETE', async () => {
    const repo = uniqueRepo('unk');
    await client.pushImage(repo, 'v1');
    await expectOciError(
      await client.request('DELETE', `/v2/${repo}/manifests/sha256:short`),
      400,
      'DIGEST_INVALID',
    );
  });
});
