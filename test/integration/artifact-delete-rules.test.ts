import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  digestOf,
  expectStatus,
  imageIndex,
  imageManifest,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  uniqueRepo,
  useTestRegistry,
  type Descriptor,
  type OciClient,
} from '../helpers/oci-client.js';

// The one delete rule set of the artifact core, asked through /v2 and through the management API:
// the same scenarios run through both, and must end the same way (only the status codes of each
// API's own conventions differ). An index's listed child is refused while the index stays; an
// index takes its untagged children that no other index lists; accessories go with their
// subject; a deleted manifest's tags go with it; a tag delete removes only the tag.

const { client } = useTestRegistry();

interface Deleter {
  name: string;
  /** Deletes a manifest by digest; resolves to the response. */
  deleteManifest(repo: string, digest: string): Promise<Response>;
  /** Removes a tag (the API names the artifact it is on). */
  deleteTag(repo: string, tag: string, digest: string): Promise<Response>;
  deleted: number;
  /** The refusal's status and error code. */
  refused: { status: number; code: string };
}

/** `test/a/b` -> the API's path of that repository (its name without the project, encoded twice). */
function apiRepositoryPath(repo: string): string {
  const [project, ...rest] = repo.split('/');
  return `/api/v2.0/projects/${project}/repositories/${encodeURIComponent(encodeURIComponent(rest.join('/')))}`;
}

const DELETERS: Deleter[] = [
  {
    name: '/v2',
    deleteManifest: (repo, digest) => client.request('DELETE', `/v2/${repo}/manifests/${digest}`),
    deleteTag: (repo, tag) => client.request('DELETE', `/v2/${repo}/manifests/${tag}`),
    deleted: 202,
    refused: { status: 412, code: 'DENIED' },
  },
  {
    name: 'the API',
    deleteManifest: (repo, digest) =>
      client.request('DELETE', `${apiRepositoryPath(repo)}/artifacts/${digest}`),
    deleteTag: (repo, tag, digest) =>
      client.request('DELETE', `${apiRepositoryPath(repo)}/artifacts/${digest}/tags/${tag}`),
    deleted: 200,
    refused: { status: 412, code: 'PRECONDITION' },
  },
];

async function putManifest(c: OciClient, repo: string, reference: string, bytes: Buffer, mediaType: string) {
  const res = await c.request('PUT', `/v2/${repo}/manifests/${reference}`, {
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  await expectStatus(res, 201);
}

/** An image manifest (config and one layer) pushed under `tag`, or untagged (by digest). */
async function pushImage(repo: string, tag?: string): Promise<Descriptor> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBytes(8).toString('hex') }),
  );
  const layer = randomBytes(256);
  const bytes = imageManifest({
    config: { mediaType: OCI_CONFIG, digest: await client.pushBlob(repo, config), size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: await client.pushBlob(repo, layer), size: layer.length }],
  });
  const digest = digestOf(bytes);
  await putManifest(client, repo, tag ?? digest, bytes, OCI_MANIFEST);
  return { mediaType: OCI_MANIFEST, digest, size: bytes.length };
}

async function pushIndex(repo: string, children: Descriptor[], tag?: string): Promise<Descriptor> {
  const bytes = imageIndex(children);
  const digest = digestOf(bytes);
  await putManifest(client, repo, tag ?? digest, bytes, OCI_INDEX);
  return { mediaType: OCI_INDEX, digest, size: bytes.length };
}

/** An accessory (a signature, an SBOM): empty config, one layer, `subject`. */
async function pushAccessory(repo: string, subject: Descriptor, artifactType: string): Promise<Descriptor> {
  const empty = Buffer.from('{}');
  const payload = randomBytes(64);
  const bytes = imageManifest({
    config: { mediaType: OCI_EMPTY, digest: await client.pushBlob(repo, empty), size: empty.length },
    layers: [
      {
        mediaType: 'application/octet-stream',
        digest: await client.pushBlob(repo, payload),
        size: payload.length,
      },
    ],
    subject,
    artifactType,
  });
  const digest = digestOf(bytes);
  await putManifest(client, repo, digest, bytes, OCI_MANIFEST);
  return { mediaType: OCI_MANIFEST, digest, size: bytes.length };
}

async function exists(repo: string, reference: string): Promise<boolean> {
  const res = await client.request('HEAD', `/v2/${repo}/manifests/${reference}`, {
    headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` },
  });
  if (res.status !== 200 && res.status !== 404) expect.fail(`HEAD ${reference}: ${res.status}`);
  return res.status === 200;
}

async function tagsOf(repo: string): Promise<string[]> {
  const res = await client.request('GET', `/v2/${repo}/tags/list`);
  if (res.status === 404) return [];
  await expectStatus(res, 200);
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

async function expectRefused(res: Response, deleter: Deleter): Promise<string> {
  await expectStatus(res, deleter.refused.status);
  const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
  expect(body.errors[0]?.code).toBe(deleter.refused.code);
  return body.errors[0]?.message ?? '';
}

describe.each(DELETERS)('deleting through $name', (deleter) => {
  it('refuses a child an index lists, and the index takes its untagged children with it', async () => {
    const repo = uniqueRepo('rules-index');
    const amd = await pushImage(repo);
    const arm = await pushImage(repo);
    const index = await pushIndex(repo, [amd, arm], 'multi');

    const message = await expectRefused(await deleter.deleteManifest(repo, amd.digest), deleter);
    expect(message).toContain(index.digest);
    expect(await exists(repo, amd.digest)).toBe(true);

    await expectStatus(await deleter.deleteManifest(repo, index.digest), deleter.deleted);
    expect(await exists(repo, index.digest)).toBe(false);
    expect(await exists(repo, amd.digest)).toBe(false);
    expect(await exists(repo, arm.digest)).toBe(false);
    expect(await tagsOf(repo)).toEqual([]);
  });

  it('keeps a child another index lists and a child with a tag of its own', async () => {
    const repo = uniqueRepo('rules-shared');
    const own = await pushImage(repo);
    const shared = await pushImage(repo);
    const tagged = await pushImage(repo, 'standalone');
    const doomed = await pushIndex(repo, [own, shared, tagged], 'doomed');
    const other = await pushIndex(repo, [shared], 'other');

    await expectStatus(await deleter.deleteManifest(repo, doomed.digest), deleter.deleted);
    expect(await exists(repo, doomed.digest)).toBe(false);
    expect(await exists(repo, own.digest)).toBe(false);
    expect(await exists(repo, shared.digest)).toBe(true);
    expect(await exists(repo, tagged.digest)).toBe(true);
    expect(await exists(repo, other.digest)).toBe(true);
    expect((await tagsOf(repo)).sort()).toEqual(['other', 'standalone']);

    // Still listed by the other index: refused, as before.
    await expectRefused(await deleter.deleteManifest(repo, shared.digest), deleter);
  });

  it('deletes the accessories of a deleted manifest, an accessory of an accessory too', async () => {
    const repo = uniqueRepo('rules-accessories');
    const image = await pushImage(repo, 'v1');
    const keep = await pushImage(repo, 'v2');
    const signature = await pushAccessory(repo, image, 'application/vnd.example.signature');
    const sbom = await pushAccessory(repo, image, 'application/vnd.example.sbom');
    const sbomSignature = await pushAccessory(repo, sbom, 'application/vnd.example.signature');
    const otherSignature = await pushAccessory(repo, keep, 'application/vnd.example.signature');

    await expectStatus(await deleter.deleteManifest(repo, image.digest), deleter.deleted);
    for (const gone of [image, signature, sbom, sbomSignature])
      expect(await exists(repo, gone.digest)).toBe(false);
    expect(await exists(repo, keep.digest)).toBe(true);
    expect(await exists(repo, otherSignature.digest)).toBe(true);
    expect(await tagsOf(repo)).toEqual(['v2']);
    const referrers = await client.request('GET', `/v2/${repo}/referrers/${image.digest}`);
    await expectStatus(referrers, 200);
    expect(((await referrers.json()) as { manifests: unknown[] }).manifests).toEqual([]);
  });

  it('deletes the tags with the manifest; deleting a tag removes only the tag', async () => {
    const repo = uniqueRepo('rules-tags');
    const image = await pushImage(repo, 'one');
    await putManifest(client, repo, 'two', await manifestBytes(repo, image.digest), OCI_MANIFEST);
    await putManifest(client, repo, 'three', await manifestBytes(repo, image.digest), OCI_MANIFEST);

    await expectStatus(await deleter.deleteTag(repo, 'one', image.digest), deleter.deleted);
    expect(await exists(repo, image.digest)).toBe(true);
    expect((await tagsOf(repo)).sort()).toEqual(['three', 'two']);

    await expectStatus(await deleter.deleteManifest(repo, image.digest), deleter.deleted);
    expect(await exists(repo, image.digest)).toBe(false);
    expect(await tagsOf(repo)).toEqual([]);
  });

  it('deleting the tag of an index child leaves the child, still listed', async () => {
    const repo = uniqueRepo('rules-child-tag');
    const child = await pushImage(repo, 'child');
    const index = await pushIndex(repo, [child], 'index');
    await expectStatus(await deleter.deleteTag(repo, 'child', child.digest), deleter.deleted);
    expect(await exists(repo, child.digest)).toBe(true);
    expect(await exists(repo, index.digest)).toBe(true);
    expect(await tagsOf(repo)).toEqual(['index']);
  });
});

async function manifestBytes(repo: string, digest: string): Promise<Buffer> {
  const res = await client.request('GET', `/v2/${repo}/manifests/${digest}`, {
    headers: { accept: OCI_MANIFEST },
  });
  await expectStatus(res, 200);
  return Buffer.from(await res.arrayBuffer());
}

describe('the API deletes an artifact named by tag as the artifact the tag names', () => {
  it('removes the manifest with all its tags, under the same rules', async () => {
    const repo = uniqueRepo('rules-by-tag');
    const image = await pushImage(repo, 'a');
    await putManifest(client, repo, 'b', await manifestBytes(repo, image.digest), OCI_MANIFEST);
    const child = await pushImage(repo, 'child');
    await pushIndex(repo, [child], 'list');

    const refused = await client.request('DELETE', `${apiRepositoryPath(repo)}/artifacts/child`);
    await expectStatus(refused, 412);
    expect(await exists(repo, child.digest)).toBe(true);

    await expectStatus(await client.request('DELETE', `${apiRepositoryPath(repo)}/artifacts/a`), 200);
    expect(await exists(repo, image.digest)).toBe(false);
    expect((await tagsOf(repo)).sort()).toEqual(['child', 'list']);
  });
});
