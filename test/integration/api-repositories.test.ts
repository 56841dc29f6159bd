import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  OciClient,
  descriptorOf,
  digestOf,
  expectOciError,
  expectStatus,
  imageIndex,
  imageManifest,
  type PushedImage,
} from '../helpers/oci-client.js';
import { adminAuth } from '../helpers/server.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';

// Harbor's repository, artifact, tag, search, statistics and systeminfo endpoints over content
// pushed through /v2.

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const PASSWORD = 'Catalog-Passw0rd';
const ZERO_TIME = '0001-01-01T00:00:00.000Z';

interface ArtifactJson {
  id: number;
  type: string;
  media_type: string;
  manifest_media_type: string;
  project_id: number;
  repository_id: number;
  repository_name: string;
  digest: string;
  size: number;
  push_time: string;
  pull_time: string;
  extra_attrs: object;
  annotations: Record<string, string>;
  references: Array<{ parent_id: number; child_id: number; child_digest: string; platform: unknown }>;
  tags?: Array<{ name: string; artifact_id: number; repository_id: number; immutable: boolean }>;
}

interface RepositoryJson {
  id: number;
  project_id: number;
  name: string;
  artifact_count: number;
  pull_count: number;
  description: string;
  creation_time: string;
}

describe('/api/v2.0 repositories, artifacts, tags, search, statistics, systeminfo', () => {
  let wharf: InProcessWharf;
  let admin: string;
  let oci: OciClient;
  const auth = { dev: basic('cat-dev', PASSWORD), guest: basic('cat-guest', PASSWORD), outsider: '' };

  const call = (method: string, path: string, authorization: string | undefined, body?: unknown) =>
    fetch(`${wharf.url}/api/v2.0${path}`, {
      method,
      headers: {
        ...(authorization && { authorization }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const json = async <T>(res: Response, status = 200): Promise<T> => {
    await expectStatus(res, status);
    return (await res.json()) as T;
  };

  /** An image pushed by digest only (an index's child). */
  const pushUntagged = async (repository: string, architecture: string): Promise<PushedImage> => {
    const config = Buffer.from(
      JSON.stringify({ architecture, os: 'linux', n: randomBytes(4).toString('hex') }),
    );
    const layer = randomBytes(700);
    const configDescriptor = {
      mediaType: OCI_CONFIG,
      digest: await oci.pushBlob(repository, config),
      size: config.length,
    };
    const layers = [
      { mediaType: OCI_LAYER, digest: await oci.pushBlob(repository, layer), size: layer.length },
    ];
    const bytes = imageManifest({ config: configDescriptor, layers });
    const digest = await oci.putManifest(repository, digestOf(bytes), bytes, OCI_MANIFEST);
    return { digest, bytes, mediaType: OCI_MANIFEST, config: configDescriptor, layers };
  };

  let image: PushedImage;
  let amd: PushedImage;
  let arm: PushedImage;
  let indexBytes: Buffer;
  let indexDigest: string;
  let zeta: PushedImage;
  let signatureDigest: string;

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: [] });
    admin = adminAuth(wharf);
    oci = new OciClient(wharf.url, admin);
    for (const user of ['cat-dev', 'cat-guest', 'cat-outsider']) {
      await expectStatus(await call('POST', '/users', admin, { username: user, password: PASSWORD }), 201);
    }
    auth.outsider = basic('cat-outsider', PASSWORD);
    for (const [name, isPublic] of [
      ['cat', false],
      ['pubcat', true],
      ['gone', false],
    ] as const) {
      await expectStatus(
        await call('POST', '/projects', admin, {
          project_name: name,
          metadata: { public: String(isPublic) },
        }),
        201,
      );
    }
    await expectStatus(
      await call('POST', '/projects/cat/members', admin, {
        role_id: 2,
        member_user: { username: 'cat-dev' },
      }),
      201,
    );
    await expectStatus(
      await call('POST', '/projects/cat/members', admin, {
        role_id: 3,
        member_user: { username: 'cat-guest' },
      }),
      201,
    );

    image = await oci.pushImage('cat/app', '1.0', { layers: 2 });
    amd = await pushUntagged('cat/app', 'amd64');
    arm = await pushUntagged('cat/app', 'arm64');
    indexBytes = imageIndex([
      descriptorOf(amd, { architecture: 'amd64', os: 'linux' }),
      descriptorOf(arm, { architecture: 'arm64', os: 'linux' }),
    ]);
    indexDigest = await oci.putManifest('cat/app', 'multi', indexBytes, OCI_INDEX);
    await oci.pushImage('cat/nested/deep', 'latest');
    zeta = await oci.pushImage('cat/zeta', 'z1');
    const empty = Buffer.from('{}');
    const signature = imageManifest({
      config: { mediaType: OCI_EMPTY, digest: await oci.pushBlob('cat/zeta', empty), size: empty.length },
      layers: [],
      subject: descriptorOf(zeta),
      artifactType: 'application/vnd.example.signature',
    });
    signatureDigest = await oci.putManifest('cat/zeta', digestOf(signature), signature, OCI_MANIFEST);
    await oci.pushImage('pubcat/web', 'stable');
    await oci.pushImage('gone/only', 'v1');
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('lists a project’s repositories with paging headers and q=name=~', async () => {
    const first = await call('GET', '/projects/cat/repositories?page=1&page_size=2', admin);
    const page1 = await json<RepositoryJson[]>(first);
    expect(first.headers.get('x-total-count')).toBe('3');
    expect(first.headers.get('link')).toMatch(/rel="next"/);
    expect(page1.map((r) => r.name)).toEqual(['cat/app', 'cat/nested/deep']);
    expect(page1[0]).toMatchObject({ description: '', pull_count: 0, artifact_count: 2 });
    expect(new Date(page1[0]?.creation_time ?? '').getTime()).toBeGreaterThan(0);
    const second = await call('GET', '/projects/cat/repositories?page=2&page_size=2', admin);
    expect((await json<RepositoryJson[]>(second)).map((r) => r.name)).toEqual(['cat/zeta']);
    expect(second.headers.get('link')).toMatch(/rel="prev"/);
    expect(second.headers.get('link')).not.toMatch(/rel="next"/);
    const fuzzy = await json<RepositoryJson[]>(
      await call('GET', `/projects/cat/repositories?q=${encodeURIComponent('name=~deep')}`, admin),
    );
    expect(fuzzy.map((r) => r.name)).toEqual(['cat/nested/deep']);
  });

  it('gets a repository by its name without the project, slashes encoded once or twice', async () => {
    for (const encoded of ['nested%252Fdeep', 'nested%2Fdeep']) {
      const repo = await json<RepositoryJson>(
        await call('GET', `/projects/cat/repositories/${encoded}`, auth.guest),
      );
      expect(repo).toMatchObject({ name: 'cat/nested/deep', artifact_count: 1 });
    }
    await expectOciError(await call('GET', '/projects/cat/repositories/nope', admin), 404, 'NOT_FOUND');
    await expectOciError(await call('GET', '/projects/nope/repositories/app', admin), 404, 'NOT_FOUND');
  });

  it('lists artifacts with sizes, media types, tags, push times and index references', async () => {
    const res = await call('GET', '/projects/cat/repositories/app/artifacts', auth.guest);
    const artifacts = await json<ArtifactJson[]>(res);
    expect(res.headers.get('x-total-count')).toBe('2');
    // The index's children are not listed on their own (as Harbor).
    expect(artifacts.map((a) => a.digest).sort()).toEqual([image.digest, indexDigest].sort());

    const img = artifacts.find((a) => a.digest === image.digest) as ArtifactJson;
    const layerBytes = image.layers.reduce((n, l) => n + l.size, 0);
    expect(img).toMatchObject({
      type: 'IMAGE',
      media_type: OCI_CONFIG,
      manifest_media_type: OCI_MANIFEST,
      repository_name: 'cat/app',
      size: image.bytes.length + image.config.size + layerBytes,
      pull_time: ZERO_TIME,
      extra_attrs: {},
      references: [],
    });
    expect(Math.abs(new Date(img.push_time).getTime() - Date.now())).toBeLessThan(10 * 60_000);
    expect(img.tags?.map((t) => t.name)).toEqual(['1.0']);
    expect(img.tags?.[0]).toMatchObject({
      artifact_id: img.id,
      repository_id: img.repository_id,
      immutable: false,
    });

    const index = artifacts.find((a) => a.digest === indexDigest) as ArtifactJson;
    const childTotal = (i: PushedImage) => i.bytes.length + i.config.size + i.layers[0]!.size;
    expect(index).toMatchObject({
      type: 'IMAGE',
      media_type: OCI_INDEX,
      manifest_media_type: OCI_INDEX,
      size: indexBytes.length + childTotal(amd) + childTotal(arm),
    });
    expect(index.tags?.map((t) => t.name)).toEqual(['multi']);
    const refs = [...index.references].sort((a, b) => a.child_digest.localeCompare(b.child_digest));
    const expected = [
      { child_digest: amd.digest, platform: { architecture: 'amd64', os: 'linux' } },
      { child_digest: arm.digest, platform: { architecture: 'arm64', os: 'linux' } },
    ].sort((a, b) => a.child_digest.localeCompare(b.child_digest));
    expect(refs).toMatchObject(expected);
    expect(refs.every((r) => r.parent_id === index.id && r.child_id > 0)).toBe(true);

    const untagged = await json<ArtifactJson[]>(
      await call('GET', '/projects/cat/repositories/app/artifacts?with_tag=false&with_label=true', admin),
    );
    expect(untagged.every((a) => a.tags === undefined)).toBe(true);
    const byTag = await json<ArtifactJson[]>(
      await call(
        'GET',
        `/projects/cat/repositories/app/artifacts?q=${encodeURIComponent('tags=1.0')}`,
        admin,
      ),
    );
    expect(byTag.map((a) => a.digest)).toEqual([image.digest]);
    const paged = await call('GET', '/projects/cat/repositories/app/artifacts?page_size=1', admin);
    expect((await json<ArtifactJson[]>(paged)).length).toBe(1);
    expect(paged.headers.get('link')).toMatch(/rel="next"/);
  });

  it('gets one artifact by tag or digest', async () => {
    const byTag = await json<ArtifactJson>(
      await call('GET', '/projects/cat/repositories/app/artifacts/multi', admin),
    );
    expect(byTag.digest).toBe(indexDigest);
    const byDigest = await json<ArtifactJson>(
      await call('GET', `/projects/cat/repositories/app/artifacts/${amd.digest}`, admin),
    );
    expect(byDigest).toMatchObject({ digest: amd.digest, tags: [] });
    await expectOciError(
      await call('GET', '/projects/cat/repositories/app/artifacts/missing', admin),
      404,
      'NOT_FOUND',
    );
  });

  it('creates, lists and deletes tags on an artifact', async () => {
    const base = `/projects/cat/repositories/app/artifacts/${image.digest}/tags`;
    await expectStatus(await call('POST', base, auth.dev, { name: 'extra' }), 201);
    await expectOciError(await call('POST', base, admin, { name: 'extra' }), 409, 'CONFLICT');
    await expectOciError(await call('POST', base, admin, { name: 'multi' }), 409, 'CONFLICT');
    await expectOciError(await call('POST', base, admin, { name: '-bad tag' }), 400, 'BAD_REQUEST');
    await expectOciError(await call('POST', base, auth.guest, { name: 'nope' }), 403, 'FORBIDDEN');
    const tags = await json<Array<{ name: string }>>(await call('GET', base, auth.guest));
    expect(tags.map((t) => t.name)).toEqual(['1.0', 'extra']);
    await expectStatus(await oci.request('GET', '/v2/cat/app/manifests/extra'), 200);

    await expectOciError(await call('DELETE', `${base}/extra`, auth.dev), 403, 'FORBIDDEN');
    await expectStatus(await call('DELETE', `${base}/extra`, admin), 200);
    await expectOciError(await call('DELETE', `${base}/extra`, admin), 404, 'NOT_FOUND');
    await expectOciError(await oci.request('GET', '/v2/cat/app/manifests/extra'), 404, 'MANIFEST_UNKNOWN');
  });

  it('deletes artifacts by tag and by digest', async () => {
    // A child of an index is kept while the index needs it.
    await expectOciError(
      await call('DELETE', `/projects/cat/repositories/app/artifacts/${amd.digest}`, admin),
      412,
      'PRECONDITION',
    );
    await expectOciError(
      await call('DELETE', '/projects/cat/repositories/zeta/artifacts/z1', auth.guest),
      403,
      'FORBIDDEN',
    );
    // The signature is an accessory of z1, not an artifact of its own.
    const before = await call('GET', '/projects/cat/repositories/zeta/artifacts', admin);
    expect((await json<ArtifactJson[]>(before)).map((a) => a.digest)).toEqual([zeta.digest]);
    await expectStatus(await call('DELETE', '/projects/cat/repositories/zeta/artifacts/z1', admin), 200);
    await expectOciError(
      await oci.request('GET', `/v2/cat/zeta/manifests/${zeta.digest}`),
      404,
      'MANIFEST_UNKNOWN',
    );
    // Its accessories go with it.
    await expectOciError(
      await oci.request('GET', `/v2/cat/zeta/manifests/${signatureDigest}`),
      404,
      'MANIFEST_UNKNOWN',
    );

    await expectStatus(
      await call('DELETE', `/projects/cat/repositories/app/artifacts/${image.digest}`, admin),
      200,
    );
    await expectOciError(await oci.request('GET', '/v2/cat/app/manifests/1.0'), 404, 'MANIFEST_UNKNOWN');
    // Deleting the index takes its untagged children with it.
    await expectStatus(await call('DELETE', '/projects/cat/repositories/app/artifacts/multi', admin), 200);
    await expectOciError(
      await oci.request('GET', `/v2/cat/app/manifests/${arm.digest}`),
      404,
      'MANIFEST_UNKNOWN',
    );
    const left = await call('GET', '/projects/cat/repositories/app/artifacts?q=base%3D*', admin);
    expect(left.headers.get('x-total-count')).toBe('0');
  });

  it('deletes a repository; the registry then does not know its name', async () => {
    await expectOciError(
      await call('DELETE', '/projects/cat/repositories/nested%252Fdeep', auth.dev),
      403,
      'FORBIDDEN',
    );
    await expectStatus(await call('DELETE', '/projects/cat/repositories/nested%252Fdeep', admin), 200);
    await expectOciError(await oci.request('GET', '/v2/cat/nested/deep/tags/list'), 404, 'NAME_UNKNOWN');
    await expectOciError(
      await call('GET', '/projects/cat/repositories/nested%2Fdeep', admin),
      404,
      'NOT_FOUND',
    );
  });

  it('refuses to delete a project while it holds repositories', async () => {
    await expectOciError(await call('DELETE', '/projects/gone', admin), 412, 'PRECONDITION');
    await expectStatus(await call('DELETE', '/projects/gone/repositories/only', admin), 200);
    await expectStatus(await call('DELETE', '/projects/gone', admin), 200);
  });

  it('answers 401, 403 and 404 with Harbor’s error body; anonymous may read a public project', async () => {
    await expectOciError(await call('GET', '/projects/cat/repositories', undefined), 401, 'UNAUTHORIZED');
    // A private project answers an outsider as a missing one would (issue #10, point 11).
    await expectOciError(await call('GET', '/projects/cat/repositories', auth.outsider), 404, 'NOT_FOUND');
    await expectOciError(
      await call('GET', '/projects/cat/repositories/app/artifacts', auth.outsider),
      404,
      'NOT_FOUND',
    );
    const pub = await json<RepositoryJson[]>(await call('GET', '/projects/pubcat/repositories', undefined));
    expect(pub.map((r) => r.name)).toEqual(['pubcat/web']);
    const pubArtifacts = await json<ArtifactJson[]>(
      await call('GET', '/projects/pubcat/repositories/web/artifacts', undefined),
    );
    expect(pubArtifacts[0]?.tags?.map((t) => t.name)).toEqual(['stable']);
    await expectOciError(
      await call('DELETE', '/projects/pubcat/repositories/web/artifacts/stable', undefined),
      401,
      'UNAUTHORIZED',
    );
    await expectOciError(
      await call('DELETE', '/projects/pubcat/repositories/web', auth.outsider),
      403,
      'FORBIDDEN',
    );
  });

  it('lists every repository the caller can see at /repositories', async () => {
    const all = await json<RepositoryJson[]>(await call('GET', '/repositories?page_size=100', admin));
    expect(all.map((r) => r.name)).toEqual(['cat/app', 'cat/zeta', 'pubcat/web']);
    const outsider = await json<RepositoryJson[]>(await call('GET', '/repositories', auth.outsider));
    expect(outsider.map((r) => r.name)).toEqual(['pubcat/web']);
    const guest = await call('GET', `/repositories?q=${encodeURIComponent('name=~zet')}`, auth.guest);
    expect((await json<RepositoryJson[]>(guest)).map((r) => r.name)).toEqual(['cat/zeta']);
    expect(guest.headers.get('x-total-count')).toBe('1');
  });

  it('searches projects and repositories within what the caller can see', async () => {
    interface SearchJson {
      project: Array<{ name: string }>;
      repository: Array<{
        project_name: string;
        project_public: boolean;
        repository_name: string;
        artifact_count: number;
      }>;
    }
    const asAdmin = await json<SearchJson>(await call('GET', '/search?q=cat', admin));
    expect(asAdmin.project.map((p) => p.name).sort()).toEqual(['cat', 'pubcat']);
    expect(asAdmin.repository.map((r) => r.repository_name)).toEqual(['cat/app', 'cat/zeta', 'pubcat/web']);
    expect(asAdmin.repository[2]).toMatchObject({
      project_name: 'pubcat',
      project_public: true,
      artifact_count: 1,
    });
    const asOutsider = await json<SearchJson>(await call('GET', '/search?q=cat', auth.outsider));
    expect(asOutsider.project.map((p) => p.name)).toEqual(['pubcat']);
    expect(asOutsider.repository.map((r) => r.repository_name)).toEqual(['pubcat/web']);
    const anonymous = await json<SearchJson>(await call('GET', '/search?q=app', undefined));
    expect(anonymous.repository).toEqual([]);
    await expectOciError(await call('GET', '/search', admin), 400, 'BAD_REQUEST');
  });

  it('counts projects and repositories the caller sees; totals for administrators', async () => {
    const asAdmin = await json<Record<string, number>>(await call('GET', '/statistics', admin));
    expect(asAdmin).toMatchObject({
      private_project_count: 1, // cat (gone was deleted)
      private_repo_count: 2,
      public_project_count: 2, // library, pubcat
      public_repo_count: 1,
      total_project_count: 3,
      total_repo_count: 3,
    });
    expect(asAdmin.total_storage_consumption).toBeGreaterThan(0);
    const asOutsider = await json<Record<string, number>>(await call('GET', '/statistics', auth.outsider));
    expect(asOutsider).toEqual({
      private_project_count: 0,
      private_repo_count: 0,
      public_project_count: 2,
      public_repo_count: 1,
    });
    const asGuest = await json<Record<string, number>>(await call('GET', '/statistics', auth.guest));
    expect(asGuest).toMatchObject({ private_project_count: 1, private_repo_count: 2 });
    await expectOciError(await call('GET', '/statistics', undefined), 401, 'UNAUTHORIZED');
  });

  it('tells anonymous callers only how to sign in at /systeminfo', async () => {
    const anonymous = await json<Record<string, unknown>>(await call('GET', '/systeminfo', undefined));
    expect(anonymous).toMatchObject({ auth_mode: 'db_auth', self_registration: false });
    expect(anonymous.harbor_version).toBeUndefined();
    expect(anonymous.registry_url).toBeUndefined();
    const full = await json<Record<string, unknown>>(await call('GET', '/systeminfo', admin));
    expect(full).toMatchObject({
      auth_mode: 'db_auth',
      registry_url: wharf.host,
      project_creation_restriction: 'everyone',
      self_registration: false,
      has_ca_root: false,
      registry_storage_provider_name: 'filesystem',
      read_only: false,
      with_chartmuseum: false,
      notification_enable: false,
    });
    expect(full.harbor_version).toMatch(/^wharf-\d+\.\d+\.\d+/);
  });
});
