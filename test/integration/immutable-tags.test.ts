import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalLookupCache } from '../../src/cluster/lookup-cache.js';
import { createManifestCache } from '../../src/cluster/manifest-cache.js';
import { ImmutableTagError } from '../../src/domain/errors.js';
import type { EventActor } from '../../src/domain/events.js';
import { ArtifactService } from '../../src/services/artifacts/artifact-service.js';
import { apiCaller, createdId } from '../helpers/api-client.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { expectOciError, OciClient, OCI_MANIFEST, type PushedImage } from '../helpers/oci-client.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';

// Tag immutability enforced in the artifact core, asked every way a tag can change: a push moving
// the tag (refused with 412 DENIED; the same digest again is fine; tags no rule selects, or that
// an excludes decoration leaves out, still move), /v2 deletes by tag and by digest, the API's
// artifact, tag and repository deletes (412 PRECONDITION), and the core's own calls as retention
// makes them (a system actor). Replication: immutable-tags-replication.test.ts.

interface TagJson {
  name: string;
  immutable: boolean;
}

const SYSTEM: EventActor = { kind: 'system', name: 'retention', clientIp: null };

describe('tag immutability in the artifact core', () => {
  let wharf: InProcessWharf;
  let oci: OciClient;
  const call = apiCaller(() => wharf);
  let core: ArtifactService;
  let closeBackends: () => Promise<void>;

  const addRule = async (
    project: string,
    tag: [decoration: string, pattern: string],
    repository: [decoration: string, pattern: string] = ['repoMatches', '**'],
  ) => {
    const res = await call('POST', `/projects/${project}/immutabletagrules`, adminAuth(wharf), {
      tag_selectors: [{ kind: 'doublestar', decoration: tag[0], pattern: tag[1] }],
      scope_selectors: {
        repository: [{ kind: 'doublestar', decoration: repository[0], pattern: repository[1] }],
      },
    });
    expect(res.status).toBe(201);
    return createdId(res);
  };
  const put = (repository: string, tag: string, image: PushedImage) =>
    oci.request('PUT', `/v2/${repository}/manifests/${tag}`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: image.bytes,
    });
  const digestAt = async (repository: string, tag: string) => {
    const res = await oci.request('HEAD', `/v2/${repository}/manifests/${tag}`, {
      headers: { accept: OCI_MANIFEST },
    });
    return res.status === 200 ? res.headers.get('docker-content-digest') : null;
  };
  const apiRepo = (repository: string) => {
    const [project, ...rest] = repository.split('/');
    return `/projects/${project}/repositories/${encodeURIComponent(encodeURIComponent(rest.join('/')))}`;
  };

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: ['rel', 'svc', 'keep', 'ret'] });
    oci = new OciClient(wharf.url, adminAuth(wharf), wharf.fetch);
    await addRule('rel', ['matches', 'v*']);
    // svc: every tag except dev-* is protected, in repositories other than scratch/*.
    await addRule('svc', ['excludes', 'dev-*'], ['repoExcludes', 'scratch/**']);
    await addRule('keep', ['matches', '{stable,v1.*}'], ['repoMatches', 'app']);
    await addRule('ret', ['matches', 'prod']);
    const backends = await wharf.openBackends();
    closeBackends = () => backends.close();
    core = new ArtifactService({
      db: backends.db,
      storage: backends.storage,
      manifestCache: createManifestCache(1024 * 1024),
      lookups: createLocalLookupCache(100),
      limits: { manifestMaxBytes: 4 * 1024 * 1024 },
    });
  });
  afterAll(async () => {
    await closeBackends?.();
    await wharf?.close();
  });

  it('refuses a push that moves a protected tag, with 412 DENIED naming it', async () => {
    const first = await oci.pushImage('rel/app', 'v1');
    const second = await oci.pushImage('rel/app', 'other');
    const refused = await expectOciError(await put('rel/app', 'v1', second), 412, 'DENIED');
    expect(refused.errors[0]?.message).toMatch(/tag v1 in rel\/app is immutable.*cannot be overwritten/);
    expect(await digestAt('rel/app', 'v1')).toBe(first.digest);
    // The same manifest again changes nothing: a retried push succeeds.
    expect((await put('rel/app', 'v1', first)).status).toBe(201);
    // A protected name that does not exist yet may be created; then it is held.
    expect((await put('rel/app', 'v2', second)).status).toBe(201);
    expect((await put('rel/app', 'v2', first)).status).toBe(412);
    // Not selected by the rule: moves as before.
    await oci.pushImage('rel/app', 'latest');
    expect((await put('rel/app', 'latest', first)).status).toBe(201);
    expect(await digestAt('rel/app', 'latest')).toBe(first.digest);
    // Extra tags of one push (?tag=) are checked as well; the refused push writes nothing.
    const third = await oci.pushImage('rel/app', 'third');
    const multi = await oci.request('PUT', `/v2/rel/app/manifests/${third.digest}?tag=latest&tag=v1`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: third.bytes,
    });
    expect(multi.status).toBe(412);
    expect(await digestAt('rel/app', 'latest')).toBe(first.digest);
  });

  it('lets only one of two concurrent pushes create a protected tag', async () => {
    // Both manifests first, untagged; then both race for the same new protected tag.
    const one = await oci.pushImage('rel/race', 'base-1');
    const two = await oci.pushImage('rel/race', 'base-2');
    for (let round = 0; round < 5; round++) {
      const tag = `v-race-${round}`;
      const statuses = (await Promise.all([put('rel/race', tag, one), put('rel/race', tag, two)])).map(
        (r) => r.status,
      );
      expect(statuses.sort()).toEqual([201, 412]);
      const held = await digestAt('rel/race', tag);
      expect([one.digest, two.digest]).toContain(held);
    }
  });

  it('honours excludes decorations on tags and repositories', async () => {
    const a = await oci.pushImage('svc/api', 'prod');
    const b = await oci.pushImage('svc/api', 'dev-1');
    expect((await put('svc/api', 'prod', b)).status).toBe(412);
    expect((await put('svc/api', 'dev-1', a)).status).toBe(201);
    await oci.pushImage('svc/scratch/tmp', 'prod');
    const moved = await oci.pushImage('svc/scratch/tmp', 'next');
    expect((await put('svc/scratch/tmp', 'prod', moved)).status).toBe(201);
    expect(await digestAt('svc/scratch/tmp', 'prod')).toBe(moved.digest);
  });

  it('refuses /v2 deletes by tag and by a digest that carries a protected tag', async () => {
    const image = await oci.pushImage('keep/app', 'v1.2');
    await oci.pushImage('keep/app', 'edge');
    const byTag = await oci.request('DELETE', '/v2/keep/app/manifests/v1.2');
    await expectOciError(byTag, 412, 'DENIED');
    await expectOciError(
      await oci.request('DELETE', `/v2/keep/app/manifests/${image.digest}`),
      412,
      'DENIED',
    );
    expect(await digestAt('keep/app', 'v1.2')).toBe(image.digest);
    // Unprotected tag, and a repository the rule does not select: deleted as before.
    expect((await oci.request('DELETE', '/v2/keep/app/manifests/edge')).status).toBe(202);
    const elsewhere = await oci.pushImage('keep/web', 'stable');
    expect((await oci.request('DELETE', `/v2/keep/web/manifests/${elsewhere.digest}`)).status).toBe(202);
  });

  it('refuses the API artifact, tag and repository deletes with 412 PRECONDITION', async () => {
    const image = await oci.pushImage('keep/app', 'stable');
    const admin = adminAuth(wharf);
    const artifact = await call('DELETE', `${apiRepo('keep/app')}/artifacts/${image.digest}`, admin);
    expect(artifact.status).toBe(412);
    expect(await artifact.json()).toEqual({
      errors: [
        { code: 'PRECONDITION', message: expect.stringMatching(/tag stable in keep\/app is immutable/) },
      ],
    });
    expect((await call('DELETE', `${apiRepo('keep/app')}/artifacts/stable`, admin)).status).toBe(412);
    expect((await call('DELETE', `${apiRepo('keep/app')}/artifacts/stable/tags/stable`, admin)).status).toBe(
      412,
    );
    expect((await call('DELETE', apiRepo('keep/app'), admin)).status).toBe(412);
    expect(await digestAt('keep/app', 'stable')).toBe(image.digest);
    // A second, unprotected tag on the same artifact may go; the artifact may not.
    expect(
      (await call('POST', `${apiRepo('keep/app')}/artifacts/stable/tags`, admin, { name: 'extra' })).status,
    ).toBe(201);
    expect((await call('DELETE', `${apiRepo('keep/app')}/artifacts/stable/tags/extra`, admin)).status).toBe(
      200,
    );
  });

  it('reports Tag.immutable when asked with with_immutable_status', async () => {
    const admin = adminAuth(wharf);
    const image = await oci.pushImage('rel/status', 'v9');
    expect(
      (await call('POST', `${apiRepo('rel/status')}/artifacts/v9/tags`, admin, { name: 'nightly' })).status,
    ).toBe(201);
    const tagsOf = async (path: string) => {
      const res = await call('GET', path, admin);
      expect(res.status).toBe(200);
      return res.json();
    };
    const listed = (await tagsOf(`${apiRepo('rel/status')}/artifacts?with_immutable_status=true`)) as Array<{
      tags: TagJson[];
    }>;
    const flags = (tags: TagJson[] | undefined) =>
      Object.fromEntries((tags ?? []).map((t) => [t.name, t.immutable]));
    expect(flags(listed[0]?.tags)).toEqual({ nightly: false, v9: true });
    const one = (await tagsOf(
      `${apiRepo('rel/status')}/artifacts/${image.digest}?with_immutable_status=true`,
    )) as {
      tags: TagJson[];
    };
    expect(flags(one.tags)).toEqual({ nightly: false, v9: true });
    const tags = (await tagsOf(
      `${apiRepo('rel/status')}/artifacts/v9/tags?with_immutable_status=true`,
    )) as TagJson[];
    expect(flags(tags)).toEqual({ nightly: false, v9: true });
    // Not asked: false, as Harbor.
    const plain = (await tagsOf(`${apiRepo('rel/status')}/artifacts/v9/tags`)) as TagJson[];
    expect(flags(plain)).toEqual({ nightly: false, v9: false });
  });

  it("refuses retention's core calls (a system actor) and lets them through once the rule is disabled", async () => {
    const image = await oci.pushImage('ret/app', 'prod');
    await oci.pushImage('ret/app', 'old');
    const tagRefusal = await core.deleteTag('ret/app', 'prod', SYSTEM).catch((err: unknown) => err);
    expect(tagRefusal).toBeInstanceOf(ImmutableTagError);
    expect(tagRefusal).toMatchObject({ repository: 'ret/app', tag: 'prod', status: 412 });
    const artifactRefusal = await core
      .deleteArtifact('ret/app', image.digest, SYSTEM)
      .catch((err: unknown) => err);
    expect(artifactRefusal).toBeInstanceOf(ImmutableTagError);
    await expect(core.deleteRepository('ret/app', SYSTEM)).rejects.toBeInstanceOf(ImmutableTagError);
    expect(await digestAt('ret/app', 'prod')).toBe(image.digest);
    // What no rule protects goes.
    await expect(core.deleteTag('ret/app', 'old', SYSTEM)).resolves.toBe('deleted');

    const admin = adminAuth(wharf);
    const [rule] = (await (await call('GET', '/projects/ret/immutabletagrules', admin)).json()) as Array<
      Record<string, unknown>
    >;
    expect(
      (
        await call('PUT', `/projects/ret/immutabletagrules/${String(rule?.id)}`, admin, {
          ...rule,
          disabled: true,
        })
      ).status,
    ).toBe(200);
    await core.deleteArtifact('ret/app', image.digest, SYSTEM);
    // Read from the database (this test's core has its own lookup cache, not the server's).
    expect((await call('GET', `${apiRepo('ret/app')}/artifacts/${image.digest}`, admin)).status).toBe(404);
  });
});
