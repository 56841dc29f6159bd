import { beforeAll, describe, expect, it } from 'vitest';
import type { OciClient } from '../helpers/oci-client.js';
import {
  expectChallenge,
  expectOciError,
  expectStatus,
  repositoryScope,
  uniqueRepo,
  useTestRegistry,
} from '../helpers/oci-client.js';

// auth.anonymous_pull on: anonymous clients may read repositories of public projects, nothing
// else. Private projects with anonymous_pull on: oci-projects.test.ts.

const PUBLIC = 'pub';
const admin = useTestRegistry({ anonymousPull: true, publicProjects: [PUBLIC] }).client;
const publicRepo = (prefix: string) => uniqueRepo(prefix, PUBLIC);
let anonymous: OciClient;

beforeAll(() => {
  anonymous = admin.as(undefined);
});

describe('anonymous_pull on', () => {
  it('anonymous clients pull manifests, blobs, tags and referrers', async () => {
    const repo = publicRepo('public');
    const image = await admin.pushImage(repo, 'v1');
    const layer = image.layers[0]?.digest as string;

    const manifest = await anonymous.request('GET', `/v2/${repo}/manifests/v1`);
    await expectStatus(manifest, 200);
    expect(Buffer.from(await manifest.arrayBuffer()).equals(image.bytes)).toBe(true);
    expect(manifest.headers.get('docker-content-digest')).toBe(image.digest);

    const head = await anonymous.request('HEAD', `/v2/${repo}/manifests/${image.digest}`);
    expect(head.status).toBe(200);

    const blob = await anonymous.request('GET', `/v2/${repo}/blobs/${layer}`);
    await expectStatus(blob, 200);
    expect(blob.headers.get('docker-content-digest')).toBe(layer);

    const tags = await anonymous.request('GET', `/v2/${repo}/tags/list`);
    await expectStatus(tags, 200);
    expect(await tags.json()).toEqual({ name: repo, tags: ['v1'] });

    const referrers = await anonymous.request('GET', `/v2/${repo}/referrers/${image.digest}`);
    await expectStatus(referrers, 200);
  });

  it('clients that send empty Basic credentials are anonymous too', async () => {
    const repo = publicRepo('public');
    await admin.pushImage(repo, 'v1');
    const empty = admin.as(`Basic ${Buffer.from(':').toString('base64')}`);
    await expectStatus(await empty.request('GET', `/v2/${repo}/manifests/v1`), 200);
  });

  it('anonymous pull of what does not exist is a 404, not a 401', async () => {
    const repo = publicRepo('public');
    await expectOciError(await anonymous.request('GET', `/v2/${repo}/manifests/v1`), 404, 'NAME_UNKNOWN');
  });

  it('pushing, deleting and the catalog still need credentials', async () => {
    const repo = publicRepo('public');
    const image = await admin.pushImage(repo, 'v1');
    const push = repositoryScope(repo, 'pull,push');
    const remove = repositoryScope(repo, 'delete');
    await expectChallenge(await anonymous.request('POST', `/v2/${repo}/blobs/uploads/`), push);
    await expectChallenge(
      await anonymous.request('PUT', `/v2/${repo}/manifests/v2`, {
        headers: { 'content-type': image.mediaType },
        body: image.bytes,
      }),
      push,
    );
    await expectChallenge(await anonymous.request('DELETE', `/v2/${repo}/manifests/${image.digest}`), remove);
    await expectChallenge(await anonymous.request('DELETE', `/v2/${repo}/manifests/v1`), remove);
    await expectChallenge(await anonymous.request('GET', '/v2/_catalog'), 'registry:catalog:*');
    // The base endpoint keeps challenging so that clients learn that credentials are accepted.
    await expectChallenge(await anonymous.request('GET', '/v2/'), null);
    expect((await admin.request('GET', `/v2/${repo}/manifests/v1`)).status).toBe(200);
  });

  it('a wrong password is refused even for a pull', async () => {
    const repo = publicRepo('public');
    await admin.pushImage(repo, 'v1');
    const wrong = admin.as(`Basic ${Buffer.from('admin:wrong').toString('base64')}`);
    await expectChallenge(
      await wrong.request('GET', `/v2/${repo}/manifests/v1`),
      repositoryScope(repo, 'pull'),
    );
  });
});
