import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  descriptorOf,
  digestOf,
  expectOciError,
  expectStatus,
  imageIndex,
  imageManifest,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  uniqueRepo,
  useTestRegistry,
  type Descriptor,
} from '../helpers/oci-client.js';

// The referrers API (distribution-spec 1.1): manifests with a subject, listed per subject digest.

const { client } = useTestRegistry();

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

const EMPTY_CONFIG = Buffer.from('{}');

/** Pushes an artifact manifest (empty config, one layer) with `subject`; returns its descriptor. */
async function pushArtifact(
  repo: string,
  subject: Descriptor,
  options: { artifactType?: string; annotations?: Record<string, string>; configType?: string } = {},
): Promise<{ descriptor: Descriptor; response: Response }> {
  const config = {
    mediaType: options.configType ?? OCI_EMPTY,
    digest: await client.pushBlob(repo, EMPTY_CONFIG),
    size: EMPTY_CONFIG.length,
  };
  const payload = randomBytes(64);
  const layer = {
    mediaType: 'application/octet-stream',
    digest: await client.pushBlob(repo, payload),
    size: 64,
  };
  const bytes = imageManifest({
    config,
    layers: [layer],
    subject,
    ...(options.artifactType !== undefined && { artifactType: options.artifactType }),
    ...(options.annotations && { annotations: options.annotations }),
  });
  const digest = digestOf(bytes);
  const response = await client.request('PUT', `/v2/${repo}/manifests/${digest}`, {
    headers: { 'content-type': OCI_MANIFEST },
    body: bytes,
  });
  await expectStatus(response, 201);
  return { descriptor: { mediaType: OCI_MANIFEST, digest, size: bytes.length }, response };
}

async function referrers(repo: string, digest: string, artifactType?: string): Promise<Response> {
  const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
  return client.request('GET', `/v2/${repo}/referrers/${digest}${query}`);
}

async function expectIndex(res: Response): Promise<ReferrersIndex> {
  await expectStatus(res, 200);
  expect(res.headers.get('content-type')).toBe(OCI_INDEX);
  const index = (await res.json()) as ReferrersIndex;
  expect(index.schemaVersion).toBe(2);
  expect(index.mediaType).toBe(OCI_INDEX);
  expect(Array.isArray(index.manifests)).toBe(true);
  return index;
}

describe('pushing a manifest with a subject', () => {
  it('answers with OCI-Subject, whether or not the subject exists', async () => {
    const repo = uniqueRepo('refs');
    const subject = await client.pushImage(repo, 'v1');
    const { response } = await pushArtifact(repo, descriptorOf(subject), {
      artifactType: 'application/x.sig',
    });
    expect(response.headers.get('oci-subject')).toBe(subject.digest);

    // The spec lets a referrer arrive before its subject.
    const absent = { mediaType: OCI_MANIFEST, digest: digestOf(randomBytes(8)), size: 123 };
    const early = await pushArtifact(repo, absent, { artifactType: 'application/x.sig' });
    expect(early.response.headers.get('oci-subject')).toBe(absent.digest);
    const index = await expectIndex(await referrers(repo, absent.digest));
    expect(index.manifests.map((m) => m.digest)).toEqual([early.descriptor.digest]);
  });
});

describe('listing referrers', () => {
  it('lists every referrer with artifactType and annotations', async () => {
    const repo = uniqueRepo('refs');
    const subject = await client.pushImage(repo, 'v1');
    const sbom = await pushArtifact(repo, descriptorOf(subject), {
      artifactType: 'application/vnd.example.sbom.v1',
      annotations: {
        'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
        'org.example.format': 'json',
      },
    });
    // No artifactType field: the config media type stands in for it; an empty one counts as none.
    const sig = await pushArtifact(repo, descriptorOf(subject), {
      configType: 'application/vnd.example.sig.config',
    });
    const blank = await pushArtifact(repo, descriptorOf(subject), {
      artifactType: '',
      configType: 'application/vnd.example.blank.config',
    });

    const res = await referrers(repo, subject.digest);
    expect(res.headers.get('oci-filters-applied')).toBeNull();
    const index = await expectIndex(res);
    const byDigest = new Map(index.manifests.map((m) => [m.digest, m]));
    expect(index.manifests).toHaveLength(3);
    expect(byDigest.get(sbom.descriptor.digest)).toEqual({
      ...sbom.descriptor,
      artifactType: 'application/vnd.example.sbom.v1',
      annotations: {
        'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
        'org.example.format': 'json',
      },
    });
    expect(byDigest.get(sig.descriptor.digest)).toEqual({
      ...sig.descriptor,
      artifactType: 'application/vnd.example.sig.config',
    });
    expect(byDigest.get(blank.descriptor.digest)).toEqual({
      ...blank.descriptor,
      artifactType: 'application/vnd.example.blank.config',
    });
  });

  it('an index with a subject is a referrer; without artifactType the field is left out', async () => {
    const repo = uniqueRepo('refs');
    const subject = await client.pushImage(repo, 'v1');
    const child = await client.pushImage(repo, 'child');
    const plain = imageIndex([descriptorOf(child)], { subject: descriptorOf(subject) });
    const typed = imageIndex([descriptorOf(child)], {
      subject: descriptorOf(subject),
      artifactType: 'application/vnd.example.bundle',
    });
    const blank = imageIndex([descriptorOf(child)], { subject: descriptorOf(subject), artifactType: '' });
    for (const bytes of [plain, typed, blank]) {
      const res = await client.request('PUT', `/v2/${repo}/manifests/${digestOf(bytes)}`, {
        headers: { 'content-type': OCI_INDEX },
        body: bytes,
      });
      await expectStatus(res, 201);
      expect(res.headers.get('oci-subject')).toBe(subject.digest);
    }
    const index = await expectIndex(await referrers(repo, subject.digest));
    const byDigest = new Map(index.manifests.map((m) => [m.digest, m]));
    expect(byDigest.get(digestOf(plain))).toEqual({
      mediaType: OCI_INDEX,
      digest: digestOf(plain),
      size: plain.length,
    });
    expect(byDigest.get(digestOf(blank))).toEqual({
      mediaType: OCI_INDEX,
      digest: digestOf(blank),
      size: blank.length,
    });
    expect(byDigest.get(digestOf(typed))).toEqual({
      mediaType: OCI_INDEX,
      digest: digestOf(typed),
      size: typed.length,
      artifactType: 'application/vnd.example.bundle',
    });
  });

  it('?artifactType= filters and says so in OCI-Filters-Applied', async () => {
    const repo = uniqueRepo('refs');
    const subject = await client.pushImage(repo, 'v1');
    const sbom = await pushArtifact(repo, descriptorOf(subject), {
      artifactType: 'application/vnd.example.sbom.v1',
    });
    await pushArtifact(repo, descriptorOf(subject), { artifactType: 'application/vnd.example.sig.v1' });

    const res = await referrers(repo, subject.digest, 'application/vnd.example.sbom.v1');
    expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
    const index = await expectIndex(res);
    expect(index.manifests.map((m) => m.digest)).toEqual([sbom.descriptor.digest]);

    const none = await referrers(repo, subject.digest, 'application/vnd.example.none');
    expect(none.headers.get('oci-filters-applied')).toBe('artifactType');
    expect((await expectIndex(none)).manifests).toEqual([]);
  });

  it('a deleted referrer leaves the list; referrers of other repositories never appear', async () => {
    const repo = uniqueRepo('refs');
    const subject = await client.pushImage(repo, 'v1');
    const sig = await pushArtifact(repo, descriptorOf(subject), { artifactType: 'application/x.sig' });

    // Another repository with a referrer of the same subject digest, and one of its own image.
    const other = uniqueRepo('refs');
    const foreign = await client.pushImage(other, 'base');
    await pushArtifact(other, descriptorOf(subject), { artifactType: 'application/x.sig' });
    await pushArtifact(other, descriptorOf(foreign), { artifactType: 'application/x.sig' });

    expect((await expectIndex(await referrers(repo, subject.digest))).manifests.map((m) => m.digest)).toEqual(
      [sig.descriptor.digest],
    );
    await expectStatus(await client.request('DELETE', `/v2/${repo}/manifests/${sig.descriptor.digest}`), 202);
    expect((await expectIndex(await referrers(repo, subject.digest))).manifests).toEqual([]);
  });
});

describe('referrers of what does not exist', () => {
  it('an unknown digest is an empty index (200), never 404', async () => {
    const repo = uniqueRepo('refs');
    await client.pushImage(repo, 'v1');
    const index = await expectIndex(await referrers(repo, digestOf(randomBytes(8))));
    expect(index.manifests).toEqual([]);
  });

  it('an unknown repository is an empty index (200) too', async () => {
    const index = await expectIndex(await referrers(uniqueRepo('nothing'), digestOf(randomBytes(8))));
    expect(index.manifests).toEqual([]);
  });

  it('a malformed digest is 400 DIGEST_INVALID; a malformed name 400 NAME_INVALID', async () => {
    await expectOciError(await referrers(uniqueRepo('refs'), 'sha256:nope'), 400, 'DIGEST_INVALID');
    await expectOciError(await referrers(uniqueRepo('refs'), 'latest'), 400, 'DIGEST_INVALID');
    await expectOciError(await referrers('Upper/Case', digestOf(randomBytes(8))), 400, 'NAME_INVALID');
  });

  it('methods other than GET and HEAD are 405 UNSUPPORTED', async () => {
    const repo = uniqueRepo('refs');
    const res = await client.request('DELETE', `/v2/${repo}/referrers/${digestOf(randomBytes(8))}`);
    await expectOciError(res, 405, 'UNSUPPORTED');
  });
});
