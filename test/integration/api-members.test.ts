import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, basicAuth } from '../helpers/api-client.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';

describe('/api/v2.0/projects/{p}/members', () => {
  let wharf: InProcessWharf;
  let admin: string;
  const call = apiCaller(() => wharf, '');

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: ['crew'] });
    admin = adminAuth(wharf);
    expect(
      (await call('POST', '/api/v2.0/users', admin, { username: 'erin', password: 'Erin-Passw0rd' })).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('adds, lists, changes and removes a member, and access follows at once', async () => {
    const erin = basicAuth('erin', 'Erin-Passw0rd');
    const push = () => call('POST', '/v2/crew/app/blobs/uploads/', erin);
    // Not a member yet: the private project answers as a missing one (issue #10, point 11).
    expect((await push()).status).toBe(404);

    const added = await call('POST', '/api/v2.0/projects/crew/members', admin, {
      role_id: 2,
      member_user: { username: 'erin' },
    });
    expect(added.status).toBe(201);
    const location = added.headers.get('location') as string;
    expect(location).toMatch(/^\/api\/v2\.0\/projects\/\d+\/members\/\d+$/);
    expect((await push()).status).toBe(202);

    const list = (await (
      await call('GET', '/api/v2.0/projects/crew/members?entityname=eri', admin)
    ).json()) as Array<{
      entity_name: string;
      role_id: number;
      role_name: string;
      entity_type: string;
    }>;
    expect(list).toEqual([
      expect.objectContaining({ entity_name: 'erin', role_id: 2, role_name: 'developer', entity_type: 'u' }),
    ]);

    expect((await call('PUT', location, admin, { role_id: 3 })).status).toBe(200);
    expect(((await (await call('GET', location, admin)).json()) as { role_name: string }).role_name).toBe(
      'guest',
    );
    expect((await push()).status).toBe(403);
    // Still a reader: the repository (opened by the upload above) lists its (no) tags.
    expect((await call('GET', '/v2/crew/app/tags/list', erin)).status).toBe(200);

    expect((await call('DELETE', location, admin)).status).toBe(200);
    expect((await call('GET', '/v2/crew/app/tags/list', erin)).status).toBe(404);
    expect((await call('GET', location, admin)).status).toBe(404);
  });

  it('refuses bad input with Harbor codes', async () => {
    const post = (body: unknown) => call('POST', '/api/v2.0/projects/crew/members', admin, body);
    expect((await post({ role_id: 9, member_user: { username: 'erin' } })).status).toBe(400);
    expect((await post({ role_id: 2, member_user: { username: 'nobody' } })).status).toBe(404);
    expect((await post({ role_id: 2, member_group: { group_name: 'devs' } })).status).toBe(400);
    expect((await post({ role_id: 2, member_user: { username: 'erin' } })).status).toBe(201);
    expect((await post({ role_id: 3, member_user: { username: 'erin' } })).status).toBe(409);
    expect((await call('PUT', '/api/v2.0/projects/crew/members/abc', admin, { role_id: 2 })).status).toBe(
      400,
    );
    expect((await call('GET', '/api/v2.0/projects/nope/members', admin)).status).toBe(404);
  });
});
