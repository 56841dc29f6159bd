import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessWharf, basicAuth, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { digestOf, expectOciError, OciClient } from '../helpers/oci-client.js';

// Issue #12, point 2: Harbor's /quotas and storage_limit, usage counted as Harbor counts it (a blob
// once per project, manifests included) and exact after deletions, and the limit enforced on
// every write that adds bytes (monolithic and chunked uploads, mounts, manifest PUT), also for
// ten pushes racing near the limit. Usage is checked against an independent recount of the links.

interface Quota {
  id: number;
  ref: { id: number; name: string; owner_name: string };
  hard: { storage: number };
  used: { storage: number };
  creation_time: string;
  update_time: string;
}

const USER_PASSWORD = 'Quota-user-12345';

describe('project quotas', () => {
  let wharf: InProcessWharf;
  let oci: OciClient;
  const admin = () => wharf.adminAuth;
  const user = basicAuth('quota-dev', USER_PASSWORD);

  const projectId = async (name: string): Promise<number> => {
    const res = await wharf.call('GET', `/api/v2.0/projects/${name}`, admin());
    expect(res.status).toBe(200);
    return (res.body as { project_id: number }).project_id;
  };
  const quotaOf = async (name: string): Promise<Quota> => {
    const id = await projectId(name);
    const res = await wharf.call('GET', `/api/v2.0/quotas?reference=project&reference_id=${id}`, admin());
    expect(res.status).toBe(200);
    const list = res.body as Quota[];
    expect(list).toHaveLength(1);
    return list[0] as Quota;
  };
  const setLimit = async (name: string, storage: number): Promise<void> => {
    const { id } = await quotaOf(name);
    const res = await wharf.call('PUT', `/api/v2.0/quotas/${id}`, admin(), { hard: { storage } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  /** The bytes of the distinct blobs the project's repositories link, counted from the links. */
  const recount = async (name: string): Promise<number> => {
    const rows = await wharf.server.db.query<{ bytes: number }>(
      `SELECT COALESCE(sum(b.size), 0)::float8 AS bytes FROM (
         SELECT DISTINCT rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
         JOIN projects p ON p.id = r.project_id WHERE p.name = $1) d JOIN blobs b ON b.digest = d.digest`,
      [name],
    );
    return rows[0]?.bytes ?? 0;
  };
  const used = async (name: string) => (await quotaOf(name)).used.storage;
  const createProject = (name: string, auth: string, extra: Record<string, unknown> = {}) =>
    wharf.call('POST', '/api/v2.0/projects', auth, { project_name: name, ...extra });

  beforeAll(async () => {
    wharf = await startInProcessWharf({}, { projects: ['usage', 'full', 'race'] });
    oci = new OciClient(wharf.url, wharf.adminAuth, wharf.fetch);
    const created = await wharf.call('POST', '/api/v2.0/users', admin(), {
      username: 'quota-dev',
      email: 'quota-dev@example.com',
      realname: 'Quota Dev',
      password: USER_PASSWORD,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    await wharf?.close();
  });

  it('sets limits on project create and update, and from storage_per_project', async () => {
    expect((await createProject('limited', admin(), { storage_limit: 1000 })).status).toBe(201);
    const limited = await quotaOf('limited');
    expect(limited.hard.storage).toBe(1000);
    expect(limited.used.storage).toBe(0);
    expect(limited.ref).toEqual({ id: await projectId('limited'), name: 'limited', owner_name: 'admin' });
    expect(Date.parse(limited.creation_time)).not.toBeNaN();

    expect((await createProject('zero', admin(), { storage_limit: 0 })).status).toBe(400);
    expect((await createProject('negative', admin(), { storage_limit: -2 })).status).toBe(400);

    const update = await wharf.call('PUT', '/api/v2.0/projects/limited', admin(), { storage_limit: 4096 });
    expect(update.status).toBe(200);
    expect((await quotaOf('limited')).hard.storage).toBe(4096);

    const set = await wharf.call('PUT', '/api/v2.0/configurations', admin(), { storage_per_project: 5000 });
    expect(set.status).toBe(200);
    const shown = await wharf.call('GET', '/api/v2.0/configurations', admin());
    expect((shown.body as Record<string, unknown>).storage_per_project).toEqual({
      value: 5000,
      editable: true,
    });
    expect((await createProject('defaulted', admin())).status).toBe(201);
    expect((await quotaOf('defaulted')).hard.storage).toBe(5000);
    // A user's project gets the default; Harbor's form default -1 asks for nothing else.
    expect((await createProject('users-own', user, { storage_limit: -1 })).status).toBe(201);
    expect((await quotaOf('users-own')).hard.storage).toBe(5000);
    const bad = await wharf.call('PUT', '/api/v2.0/configurations', admin(), { storage_per_project: 0 });
    expect(bad.status).toBe(400);
    await wharf.call('PUT', '/api/v2.0/configurations', admin(), { storage_per_project: -1 });
    expect((await createProject('unlimited', admin())).status).toBe(201);
    expect((await quotaOf('unlimited')).hard.storage).toBe(-1);
  });

  it('leaves quotas to system administrators', async () => {
    // Only administrators set limits: a user's own limit is refused, not silently dropped.
    expect((await createProject('users-limit', user, { storage_limit: 100 })).status).toBe(403);
    const { id } = await quotaOf('limited');
    expect((await wharf.call('GET', '/api/v2.0/quotas', user)).status).toBe(403);
    expect((await wharf.call('GET', `/api/v2.0/quotas/${id}`, undefined)).status).toBe(401);
    expect((await wharf.call('PUT', `/api/v2.0/quotas/${id}`, user, { hard: { storage: 1 } })).status).toBe(
      403,
    );
    expect((await quotaOf('limited')).hard.storage).toBe(4096);
  });

  it('answers GET and PUT /quotas as Harbor, with paging and sorting', async () => {
    const { id } = await quotaOf('limited');
    const one = await wharf.call('GET', `/api/v2.0/quotas/${id}`, admin());
    expect(one.status).toBe(200);
    expect((one.body as Quota).ref.name).toBe('limited');
    expect(
      (await wharf.call('PUT', `/api/v2.0/quotas/${id}`, admin(), { hard: { storage: 0 } })).status,
    ).toBe(400);
    expect((await wharf.call('PUT', `/api/v2.0/quotas/${id}`, admin(), { hard: { count: 5 } })).status).toBe(
      400,
    );
    expect((await wharf.call('PUT', `/api/v2.0/quotas/${id}`, admin(), { hard: 'x' })).status).toBe(400);
    expect((await wharf.call('GET', '/api/v2.0/quotas/999999', admin())).status).toBe(404);
    expect(
      (await wharf.call('PUT', '/api/v2.0/quotas/999999', admin(), { hard: { storage: 5 } })).status,
    ).toBe(404);
    expect((await wharf.call('GET', '/api/v2.0/quotas/abc', admin())).status).toBe(400);
    // A change of limit is audited as the project's change, whichever route made it.
    expect(
      (await wharf.call('PUT', `/api/v2.0/quotas/${id}`, admin(), { hard: { storage: 8192 } })).status,
    ).toBe(200);
    expect((await quotaOf('limited')).hard.storage).toBe(8192);
    const changes = await wharf.server.db.query<{ limit: number }>(
      `SELECT (data->'changes'->>'storage_limit')::int AS limit FROM events
       WHERE type = 'project.updated' AND project_name = 'limited' ORDER BY sequence`,
    );
    expect(changes.map((c) => c.limit)).toEqual([4096, 8192]);

    const page = await wharf.app.inject({
      method: 'GET',
      url: '/api/v2.0/quotas?page=1&page_size=2&sort=-hard.storage',
      headers: { authorization: admin() },
    });
    expect(page.statusCode).toBe(200);
    const all = await wharf.call('GET', '/api/v2.0/quotas?page_size=100', admin());
    const total = (all.body as Quota[]).length;
    expect(Number(page.headers['x-total-count'])).toBe(total);
    expect(String(page.headers.link)).toContain('rel="next"');
    const hards = (page.json() as Quota[]).map((q) => q.hard.storage);
    const expected = (all.body as Quota[]).map((q) => q.hard.storage).sort((a, b) => b - a);
    expect(hards).toEqual(expected.slice(0, 2));
    expect((await wharf.call('GET', '/api/v2.0/quotas?sort=name', admin())).status).toBe(400);
    const other = await wharf.call('GET', '/api/v2.0/quotas?reference=user', admin());
    expect(other.body).toEqual([]);
  });

  it('counts a blob once per project, manifests included, exactly after deletions', async () => {
    const image = await oci.pushImage('usage/a', 'v1');
    const imageBytes = image.config.size + (image.layers[0]?.size ?? 0) + image.bytes.length;
    expect(await used('usage')).toBe(imageBytes);
    // The same layer in another repository of the project: a mount adds nothing.
    const layer = image.layers[0]?.digest ?? '';
    const mounted = await oci.request('POST', `/v2/usage/b/blobs/uploads/?mount=${layer}&from=usage/a`);
    expect(mounted.status).toBe(201);
    expect(await used('usage')).toBe(imageBytes);
    const summary = await wharf.call('GET', '/api/v2.0/projects/usage/summary', admin());
    expect((summary.body as { quota: unknown }).quota).toEqual({
      hard: { storage: -1 },
      used: { storage: imageBytes },
    });

    // Deleting the artifact removes its manifest's link; the layers stay linked until GC.
    const deleted = await wharf.call(
      'DELETE',
      `/api/v2.0/projects/usage/repositories/a/artifacts/${image.digest}`,
      admin(),
    );
    expect(deleted.status).toBe(200);
    expect(await used('usage')).toBe(imageBytes - image.bytes.length);
    expect(await used('usage')).toBe(await recount('usage'));
    // Blob DELETE in one repository: the other still links the layer.
    expect((await oci.request('DELETE', `/v2/usage/a/blobs/${layer}`)).status).toBe(202);
    expect(await used('usage')).toBe(imageBytes - image.bytes.length);
    const repoGone = await wharf.call('DELETE', '/api/v2.0/projects/usage/repositories/a', admin());
    expect(repoGone.status).toBe(200);
    expect(await used('usage')).toBe(image.layers[0]?.size);
    expect(await used('usage')).toBe(await recount('usage'));
    expect((await wharf.call('DELETE', '/api/v2.0/projects/usage/repositories/b', admin())).status).toBe(200);
    expect(await used('usage')).toBe(0);
  });

  it('refuses every write that would go over the limit with DENIED (403)', async () => {
    await setLimit('full', 3000);
    const first = randomBytes(2000);
    await oci.pushBlob('full/app', first);
    expect(await used('full')).toBe(2000);

    const big = randomBytes(1500);
    const monolithic = await oci.request('POST', `/v2/full/app/blobs/uploads/?digest=${digestOf(big)}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: big,
    });
    const error = await expectOciError(monolithic, 403, 'DENIED');
    expect(error.errors[0]?.message).toMatch(
      /^Quota exceeded when processing the request of adding 1\.465KiB/,
    );

    const session = await oci.startUpload('full/app');
    const patched = await oci.request('PATCH', session, {
      headers: { 'content-type': 'application/octet-stream' },
      body: big,
    });
    expect(patched.status).toBe(202);
    const next = oci.location(patched);
    const closed = await oci.request(
      'PUT',
      `${next}${next.includes('?') ? '&' : '?'}digest=${digestOf(big)}`,
    );
    await expectOciError(closed, 403, 'DENIED');

    // A blob the project holds already adds nothing: its upload to another repository passes.
    await oci.pushBlob('full/other', first);
    // A mount from another project would add the blob to this one.
    const elsewhere = await oci.pushBlob('race/source', big);
    const mount = await oci.request(
      'POST',
      `/v2/full/app/blobs/uploads/?mount=${elsewhere}&from=race/source`,
    );
    await expectOciError(mount, 403, 'DENIED');
    expect(await used('full')).toBe(2000);
    expect(await used('full')).toBe(await recount('full'));

    // The manifest's own bytes count too: a manifest that does not fit is refused.
    const config = Buffer.from('{}');
    await setLimit('full', 2000 + config.length);
    const configDigest = await oci.pushBlob('full/app', config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 2 },
        layers: [],
      }),
    );
    const put = await oci.request('PUT', '/v2/full/app/manifests/v1', {
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    await expectOciError(put, 403, 'DENIED');
    expect(await used('full')).toBe(2000 + config.length);
    await setLimit('full', -1);
    expect(
      (
        await oci.request('PUT', '/v2/full/app/manifests/v1', {
          headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          body: manifest,
        })
      ).status,
    ).toBe(201);
    expect(await used('full')).toBe(2000 + config.length + manifest.length);
  });

  it('never lets ten pushes racing near the limit leave usage above it', async () => {
    // Ten blobs of 1,500 bytes racing for 10,000 bytes: exactly six fit, whatever the order.
    const before = await used('race');
    await setLimit('race', before + 10_000);
    const blobs = Array.from({ length: 10 }, () => randomBytes(1500));
    const results = await Promise.allSettled(blobs.map((blob, i) => oci.pushBlob(`race/blob${i}`, blob)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(6);
    expect(await used('race')).toBe(before + 9000);
    expect(await used('race')).toBe(await recount('race'));

    // Whole images (config, layers, manifest) racing: some parts are refused, usage stays within.
    await setLimit('race', (await used('race')) + 10_000);
    const hard = (await quotaOf('race')).hard.storage;
    await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => oci.pushImage(`race/app${i}`, 'v1', { layers: 3 })),
    );
    const after = await quotaOf('race');
    expect(after.used.storage).toBeLessThanOrEqual(hard);
    expect(after.used.storage).toBeGreaterThan(hard - 2000);
    expect(after.used.storage).toBe(await recount('race'));
  });
});
