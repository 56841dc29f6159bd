import { beforeAll, describe, expect, it } from 'vitest';
import type { OciClient } from '../helpers/oci-client.js';
import {
  expectBasicChallenge,
  expectBearerChallenge,
  expectChallenge,
  expectOciError,
  expectStatus,
  repositoryScope,
  uniqueRepo,
  useTestRegistry,
} from '../helpers/oci-client.js';

// The base endpoint and authentication with anonymous pull off (the default). A 401 carries the
// token-service challenge (auth.challenge: bearer, the default) naming the scope the request needs;
// HTTP Basic credentials are accepted all the same. auth.challenge: basic is checked at the end.
//
// DENIED (403), for a signed-in user whose roles do not allow the operation, is covered role by
// role in access-matrix.test.ts.

const registry = useTestRegistry();
const admin = registry.client;
let anonymous: OciClient;

beforeAll(() => {
  anonymous = admin.as(undefined);
});

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

describe('base endpoint', () => {
  it('GET /v2/ answers 200 {} with the API version header', async () => {
    const res = await admin.request('GET', '/v2/');
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({});
  });

  it('HEAD /v2/ and GET /v2 (no slash) answer 200 as well', async () => {
    const head = await admin.request('HEAD', '/v2/');
    expect(head.status).toBe(200);
    expect(head.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect((await admin.request('GET', '/v2')).status).toBe(200);
  });

  it('refuses methods other than GET and HEAD with UNSUPPORTED', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      await expectOciError(await admin.request(method, '/v2/'), 405, 'UNSUPPORTED');
    }
  });

  it('GET /v2/ without credentials is challenged, with no scope', async () => {
    await expectChallenge(await anonymous.request('GET', '/v2/'), null);
  });
});

describe('Basic authentication', () => {
  it('a wrong password is 401 with a challenge, on every endpoint', async () => {
    const wrong = admin.as(basic(registry.wharf().adminUser, 'not-the-password'));
    const [pulled, pushed, deleted] = [uniqueRepo(), uniqueRepo(), uniqueRepo()];
    await expectChallenge(await wrong.request('GET', '/v2/'), null);
    await expectChallenge(await wrong.request('GET', '/v2/_catalog'), 'registry:catalog:*');
    await expectChallenge(
      await wrong.request('GET', `/v2/${pulled}/tags/list`),
      repositoryScope(pulled, 'pull'),
    );
    await expectChallenge(
      await wrong.request('POST', `/v2/${pushed}/blobs/uploads/`),
      repositoryScope(pushed, 'pull,push'),
    );
    await expectChallenge(
      await wrong.request('DELETE', `/v2/${deleted}/manifests/v1`),
      repositoryScope(deleted, 'delete'),
    );
  });

  it('an unknown user is 401 with a challenge', async () => {
    await expectChallenge(await admin.as(basic('nobody', 'whatever')).request('GET', '/v2/'), null);
  });

  it('a bearer token that is not one of ours is 401 with a challenge', async () => {
    await expectChallenge(await admin.as('Bearer abc.def.ghi').request('GET', '/v2/'), null);
    const repo = uniqueRepo();
    await expectChallenge(
      await admin.as('Bearer abc.def.ghi').request('GET', `/v2/${repo}/tags/list`),
      repositoryScope(repo, 'pull'),
    );
  });

  it('an unsupported scheme is 401 with a challenge', async () => {
    await expectChallenge(await admin.as('Digest username="admin"').request('GET', '/v2/'), null);
  });

  it('empty Basic credentials count as anonymous and are challenged', async () => {
    await expectChallenge(await admin.as(basic('', '')).request('GET', '/v2/'), null);
  });

  it('the right password works with any case of the scheme name', async () => {
    const res = await admin.as(admin.authorization?.replace(/^Basic/, 'basic')).request('GET', '/v2/');
    expect(res.status).toBe(200);
  });
});

describe('anonymous access with anonymous_pull off', () => {
  it('every pull and push endpoint is challenged, with the scope it needs', async () => {
    const repo = uniqueRepo('private');
    const image = await admin.pushImage(repo, 'v1');
    const layer = image.layers[0]?.digest as string;
    const upload = await admin.startUpload(repo);
    const pull = repositoryScope(repo, 'pull');
    const push = repositoryScope(repo, 'pull,push');
    const remove = repositoryScope(repo, 'delete');
    const requests: Array<[string, string, string]> = [
      ['GET', `/v2/${repo}/manifests/v1`, pull],
      ['HEAD', `/v2/${repo}/manifests/v1`, pull],
      ['GET', `/v2/${repo}/blobs/${layer}`, pull],
      ['HEAD', `/v2/${repo}/blobs/${layer}`, pull],
      ['GET', `/v2/${repo}/tags/list`, pull],
      ['GET', `/v2/${repo}/referrers/${image.digest}`, pull],
      ['GET', '/v2/_catalog', 'registry:catalog:*'],
      ['POST', `/v2/${repo}/blobs/uploads/`, push],
      // Reading or continuing an upload session is part of pushing.
      ['GET', upload, push],
      ['PATCH', upload, push],
      ['PUT', `/v2/${repo}/manifests/v2`, push],
      ['DELETE', `/v2/${repo}/manifests/${image.digest}`, remove],
      ['DELETE', `/v2/${repo}/blobs/${layer}`, remove],
    ];
    for (const [method, path, scope] of requests) {
      const res = await anonymous.request(method, path);
      expect(res.status, `${method} ${path}`).toBe(401);
      expectBearerChallenge(res, scope);
      if (method !== 'HEAD') await expectChallenge(res, scope);
    }
    // Nothing was deleted by the refused requests, and the upload session is still open.
    expect((await admin.request('GET', `/v2/${repo}/manifests/v1`)).status).toBe(200);
    await expectStatus(await admin.request('GET', upload), 204);
  });
});

describe('auth.challenge: basic', () => {
  const basicRegistry = useTestRegistry({ authConfig: { challenge: 'basic' } });

  it('challenges with HTTP Basic on the base endpoint and on repositories', async () => {
    const { client } = basicRegistry;
    const repo = uniqueRepo('basic');
    await client.pushImage(repo, 'v1');
    const nobody = client.as(undefined);
    await expectBasicChallenge(await nobody.request('GET', '/v2/'));
    await expectBasicChallenge(await nobody.request('GET', `/v2/${repo}/manifests/v1`));
    await expectBasicChallenge(await nobody.request('POST', `/v2/${repo}/blobs/uploads/`));
    await expectBasicChallenge(await nobody.request('GET', '/v2/_catalog'));
    const wrong = client.as(basic(basicRegistry.wharf().adminUser, 'not-the-password'));
    await expectBasicChallenge(await wrong.request('GET', '/v2/'));
    await expectBasicChallenge(await wrong.request('GET', `/v2/${repo}/manifests/v1`));
    // The right credentials work as in bearer mode.
    await expectStatus(await client.request('GET', `/v2/${repo}/manifests/v1`), 200);
  });
});
