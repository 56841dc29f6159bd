import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  digestOf,
  expectChallenge,
  expectOciError,
  expectStatus,
  repositoryScope,
  uniqueRepo,
  useTestRegistry,
} from '../helpers/oci-client.js';
import { createProject } from '../helpers/server.js';

// Repositories live in projects (Harbor-style): a name is <project>/<path>; pushing needs the
// project to exist; anonymous pulls reach public projects only, and only with anonymous_pull on.

const PUBLIC = 'pub';
const registry = useTestRegistry({ anonymousPull: true, publicProjects: [PUBLIC] });
const admin = registry.client;

describe('names and projects', () => {
  it('a push into a project that does not exist is 404 NAME_UNKNOWN naming the project', async () => {
    const project = `missing-${randomBytes(4).toString('hex')}`;
    const repo = `${project}/app`;
    const blob = randomBytes(16);
    const pushes = [
      await admin.request('POST', `/v2/${repo}/blobs/uploads/`),
      await admin.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(blob)}`, { body: blob }),
      await admin.request('PUT', `/v2/${repo}/manifests/v1`, {
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: '{}',
      }),
    ];
    for (const res of pushes) {
      const body = await expectOciError(res, 404, 'NAME_UNKNOWN');
      expect(body.errors[0]?.message).toContain(project);
    }
    // A pull from it is NAME_UNKNOWN as well, for a caller who may see every project.
    await expectOciError(await admin.request('GET', `/v2/${repo}/tags/list`), 404, 'NAME_UNKNOWN');

    // Once the project exists, the same push goes through.
    await createProject(registry.wharf(), project);
    await admin.pushBlob(repo, blob);
    const image = await admin.pushImage(repo, 'v1');
    await expectStatus(await admin.request('GET', `/v2/${repo}/manifests/${image.digest}`), 200);
  });

  it('a name of a single component is 400 NAME_INVALID, pushing and pulling', async () => {
    // Even when a project of that name exists: the project is the first of at least two components.
    const single = 'test';
    const digest = digestOf(randomBytes(10));
    const requests: Array<[string, string]> = [
      ['POST', `/v2/${single}/blobs/uploads/`],
      ['POST', `/v2/${single}/blobs/uploads/?digest=${digest}`],
      ['PUT', `/v2/${single}/manifests/v1`],
      ['GET', `/v2/${single}/manifests/v1`],
      ['GET', `/v2/${single}/blobs/${digest}`],
      ['GET', `/v2/${single}/tags/list`],
      ['GET', `/v2/${single}/referrers/${digest}`],
      ['DELETE', `/v2/${single}/manifests/v1`],
    ];
    for (const [method, path] of requests) {
      const res = await admin.request(method, path, method === 'PUT' ? { body: '{}' } : {});
      const body = await expectOciError(res, 400, 'NAME_INVALID');
      expect(body.errors[0]?.message, `${method} ${path}`).toContain('project');
    }
    const other = `solo${randomBytes(3).toString('hex')}`;
    await expectOciError(await admin.request('POST', `/v2/${other}/blobs/uploads/`), 400, 'NAME_INVALID');
  });

  it('the public project library exists from the first start', async () => {
    const repo = uniqueRepo('lib', 'library');
    const image = await admin.pushImage(repo, 'v1');
    const anonymous = admin.as(undefined);
    await expectStatus(await anonymous.request('GET', `/v2/${repo}/manifests/${image.digest}`), 200);
  });
});

describe('anonymous pulls with anonymous_pull on', () => {
  it('a private project is 401 with a Bearer challenge for every pull', async () => {
    const repo = uniqueRepo('private');
    const image = await admin.pushImage(repo, 'v1');
    const layer = image.layers[0]?.digest as string;
    const anonymous = admin.as(undefined);
    const pull = repositoryScope(repo, 'pull');
    for (const path of [
      `/v2/${repo}/manifests/v1`,
      `/v2/${repo}/manifests/${image.digest}`,
      `/v2/${repo}/blobs/${layer}`,
      `/v2/${repo}/tags/list`,
      `/v2/${repo}/referrers/${image.digest}`,
    ]) {
      await expectChallenge(await anonymous.request('GET', path), pull);
    }
    // Empty Basic credentials are anonymous too.
    const empty = admin.as(`Basic ${Buffer.from(':').toString('base64')}`);
    await expectChallenge(await empty.request('GET', `/v2/${repo}/manifests/v1`), pull);
  });

  it('a project that does not exist is 401 too, not 404: its absence is not told', async () => {
    const repo = `nothere-${randomBytes(4).toString('hex')}/app`;
    await expectChallenge(
      await admin.as(undefined).request('GET', `/v2/${repo}/tags/list`),
      repositoryScope(repo, 'pull'),
    );
  });

  it('a public project can be pulled from, manifests, blobs and tags', async () => {
    const repo = uniqueRepo('open', PUBLIC);
    const image = await admin.pushImage(repo, 'v1');
    const layer = image.layers[0]?.digest as string;
    const anonymous = admin.as(undefined);
    const manifest = await anonymous.request('GET', `/v2/${repo}/manifests/v1`);
    await expectStatus(manifest, 200);
    expect(Buffer.from(await manifest.arrayBuffer()).equals(image.bytes)).toBe(true);
    const blob = await anonymous.request('GET', `/v2/${repo}/blobs/${layer}`);
    await expectStatus(blob, 200);
    expect(digestOf(Buffer.from(await blob.arrayBuffer()))).toBe(layer);
    const tags = await anonymous.request('GET', `/v2/${repo}/tags/list`);
    await expectStatus(tags, 200);
    expect(await tags.json()).toEqual({ name: repo, tags: ['v1'] });
    // Pulling only: a push to the public project is still challenged.
    await expectChallenge(
      await anonymous.request('POST', `/v2/${repo}/blobs/uploads/`),
      repositoryScope(repo, 'pull,push'),
    );
  });
});

describe('anonymous pulls with anonymous_pull off', () => {
  const closed = useTestRegistry({ anonymousPull: false, publicProjects: [PUBLIC] });

  it('even a public project is 401 with a Bearer challenge', async () => {
    const repo = uniqueRepo('closed', PUBLIC);
    const image = await closed.client.pushImage(repo, 'v1');
    const anonymous = closed.client.as(undefined);
    const pull = repositoryScope(repo, 'pull');
    await expectChallenge(await anonymous.request('GET', `/v2/${repo}/manifests/v1`), pull);
    await expectChallenge(await anonymous.request('GET', `/v2/${repo}/manifests/${image.digest}`), pull);
    await expectChallenge(await anonymous.request('GET', `/v2/${repo}/tags/list`), pull);
    const library = uniqueRepo('closed', 'library');
    await closed.client.pushImage(library, 'v1');
    await expectChallenge(
      await anonymous.request('GET', `/v2/${library}/manifests/v1`),
      repositoryScope(library, 'pull'),
    );
    // The administrator still pulls.
    await expectStatus(await closed.client.request('GET', `/v2/${repo}/manifests/v1`), 200);
  });
});
