import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciClient } from '../helpers/oci-client.js';
import { apiCaller, basicAuth } from '../helpers/api-client.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';

describe('/api/v2.0/projects', () => {
  let wharf: InProcessWharf;
  let admin: string;
  const call = apiCaller(() => wharf);
  const errorCode = async (res: Response) =>
    ((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code;

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: [] });
    admin = adminAuth(wharf);
    expect(
      (await call('POST', '/users', admin, { username: 'plain', password: 'Plain-Passw0rd' })).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('creates, finds, lists, updates and deletes projects with Harbor codes', async () => {
    const created = await call('POST', '/projects', admin, {
      project_name: 'alpha',
      metadata: { public: 'true' },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toMatch(/^\/api\/v2\.0\/projects\/\d+$/);
    const id = created.headers.get('location')?.split('/').pop() as string;

    expect((await call('POST', '/projects', admin, { project_name: 'alpha' })).status).toBe(409);
    const bad = await call('POST', '/projects', admin, { project_name: 'Not_Valid!' });
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('BAD_REQUEST');
    expect((await call('POST', '/projects', admin, { metadata: {} })).status).toBe(400);

    expect((await call('HEAD', '/projects?project_name=alpha', admin)).status).toBe(200);
    expect((await call('HEAD', '/projects?project_name=nope', admin)).status).toBe(404);

    const byName = (await (await call('GET', '/projects/alpha', admin)).json()) as {
      project_id: number;
      metadata: Record<string, string>;
    };
    expect(String(byName.project_id)).toBe(id);
    expect(byName.metadata.public).toBe('true');
    const byId = (await (await call('GET', `/projects/${id}`, admin)).json()) as { name: string };
    expect(byId.name).toBe('alpha');
    expect((await call('GET', '/projects/nope', admin)).status).toBe(404);

    const list = await call('GET', '/projects?name=alpha', admin);
    expect(list.headers.get('x-total-count')).toBe('1');
    const fuzzy = (await (
      await call('GET', `/projects?q=${encodeURIComponent('name=~lph')}`, admin)
    ).json()) as Array<{ name: string }>;
    expect(fuzzy.map((p) => p.name)).toEqual(['alpha']);

    expect(
      (await call('PUT', '/projects/alpha', admin, { metadata: { public: 'false', auto_scan: 'false' } }))
        .status,
    ).toBe(200);
    const meta = (await (await call('GET', '/projects/alpha/metadatas', admin)).json()) as Record<
      string,
      string
    >;
    expect(meta).toMatchObject({ public: 'false', auto_scan: 'false' });
    expect(
      (await call('PUT', '/projects/alpha/metadatas/severity', admin, { severity: 'high' })).status,
    ).toBe(200);
    expect(await (await call('GET', '/projects/alpha/metadatas/severity', admin)).json()).toEqual({
      severity: 'high',
    });
    expect((await call('DELETE', '/projects/alpha/metadatas/auto_scan', admin)).status).toBe(200);
    expect((await call('GET', '/projects/alpha/metadatas/auto_scan', admin)).status).toBe(404);
    expect((await call('PUT', '/projects/alpha', admin, { metadata: { unknown_key: 'x' } })).status).toBe(
      400,
    );

    // Not empty: refused with 412 until its repositories are gone.
    await new OciClient(wharf.url, admin, wharf.fetch).pushImage('alpha/app', 'v1');
    const summary = (await (await call('GET', '/projects/alpha/summary', admin)).json()) as {
      repo_count: number;
      project_admin_count: number;
    };
    expect(summary.repo_count).toBe(1);
    expect(summary.project_admin_count).toBe(1);
    const notEmpty = await call('DELETE', '/projects/alpha', admin);
    expect(notEmpty.status).toBe(412);
    expect(await errorCode(notEmpty)).toBe('PRECONDITION');

    const empty = await call('POST', '/projects', admin, { project_name: 'beta' });
    expect(empty.status).toBe(201);
    expect((await call('DELETE', '/projects/beta', admin)).status).toBe(200);
    expect((await call('GET', '/projects/beta', admin)).status).toBe(404);
  });

  it('private projects are hidden from non-members; anonymous callers get 401', async () => {
    expect((await call('POST', '/projects', admin, { project_name: 'secret' })).status).toBe(201);
    const plain = basicAuth('plain', 'Plain-Passw0rd');
    // The answer a missing project gets: private means invisible (issue #10, point 11).
    expect((await call('GET', '/projects/secret', plain)).status).toBe(404);
    expect((await call('GET', '/projects/secret', undefined)).status).toBe(401);
    const visible = (await (await call('GET', '/projects?page_size=100', plain)).json()) as Array<{
      name: string;
    }>;
    expect(visible.map((p) => p.name)).not.toContain('secret');
    expect(visible.map((p) => p.name)).toContain('library');
  });

  it('project_creation_restriction: everyone by default, adminonly when configured', async () => {
    const plain = basicAuth('plain', 'Plain-Passw0rd');
    const own = await call('POST', '/projects', plain, { project_name: 'plains-own' });
    expect(own.status).toBe(201);
    const mine = (await (await call('GET', '/projects/plains-own', plain)).json()) as {
      current_user_role_id: number;
    };
    expect(mine.current_user_role_id).toBe(1);

    expect(
      (await call('PUT', '/configurations', plain, { project_creation_restriction: 'adminonly' })).status,
    ).toBe(403);
    expect(
      (await call('PUT', '/configurations', admin, { project_creation_restriction: 'sometimes' })).status,
    ).toBe(400);
    expect(
      (await call('PUT', '/configurations', admin, { project_creation_restriction: 'adminonly' })).status,
    ).toBe(200);
    const config = (await (await call('GET', '/configurations', admin)).json()) as Record<
      string,
      { value: unknown }
    >;
    expect(config.project_creation_restriction?.value).toBe('adminonly');
    const refused = await call('POST', '/projects', plain, { project_name: 'plains-second' });
    expect(refused.status).toBe(403);
    expect((await call('POST', '/projects', admin, { project_name: 'admins-only' })).status).toBe(201);
  });
});
