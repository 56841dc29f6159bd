import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, basicAuth, createdId } from '../helpers/api-client.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';

describe('/api/v2.0/users', () => {
  let wharf: InProcessWharf;
  let admin: string;
  const call = apiCaller(() => wharf);
  const idOf = createdId;

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: ['perm'] });
    admin = adminAuth(wharf);
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('creates users (admins only), enforcing the password policy and unique names', async () => {
    const created = await call('POST', '/users', admin, {
      username: 'alice',
      password: 'Alice-Passw0rd',
      email: 'alice@example.test',
      realname: 'Alice',
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toMatch(/^\/api\/v2\.0\/users\/\d+$/);
    expect(
      (await call('POST', '/users', admin, { username: 'alice', password: 'Alice-Passw0rd' })).status,
    ).toBe(409);
    expect((await call('POST', '/users', admin, { username: 'weak', password: 'short' })).status).toBe(400);
    expect(
      (await call('POST', '/users', admin, { username: 'nodigit', password: 'NoDigitsHere' })).status,
    ).toBe(400);
    expect(
      (await call('POST', '/users', admin, { username: 'robot$x', password: 'Robot-Passw0rd' })).status,
    ).toBe(400);
    expect(
      (await call('POST', '/users', admin, { username: 'bademail', password: 'Bad-Passw0rd', email: 'nope' }))
        .status,
    ).toBe(400);
    const alice = basicAuth('alice', 'Alice-Passw0rd');
    expect((await call('POST', '/users', alice, { username: 'bob', password: 'Bob-Passw0rd1' })).status).toBe(
      403,
    );
    expect(
      (await call('POST', '/users', undefined, { username: 'bob', password: 'Bob-Passw0rd1' })).status,
    ).toBe(401);
  });

  it('lists and searches; users see themselves, not others', async () => {
    const bob = await call('POST', '/users', admin, { username: 'bob', password: 'Bob-Passw0rd1' });
    const bobId = idOf(bob);
    const list = await call('GET', '/users?page_size=1', admin);
    expect(list.status).toBe(200);
    expect(Number(list.headers.get('x-total-count'))).toBeGreaterThanOrEqual(3);
    expect(list.headers.get('link')).toContain('rel="next"');
    const fuzzy = (await (
      await call('GET', `/users?q=${encodeURIComponent('username=~ob')}`, admin)
    ).json()) as Array<{ username: string }>;
    expect(fuzzy.map((u) => u.username)).toEqual(['bob']);
    const alice = basicAuth('alice', 'Alice-Passw0rd');
    expect((await call('GET', '/users', alice)).status).toBe(403);
    const search = (await (await call('GET', '/users/search?username=bo', alice)).json()) as Array<{
      user_id: number;
      username: string;
    }>;
    expect(search).toEqual([{ user_id: bobId, username: 'bob' }]);
    const me = (await (await call('GET', '/users/current', alice)).json()) as {
      user_id: number;
      username: string;
      email: string;
      sysadmin_flag: boolean;
    };
    expect(me).toMatchObject({ username: 'alice', email: 'alice@example.test', sysadmin_flag: false });
    expect((await call('GET', `/users/${me.user_id}`, alice)).status).toBe(200);
    expect((await call('GET', `/users/${bobId}`, alice)).status).toBe(403);
    expect((await call('GET', '/users/999999', admin)).status).toBe(404);
    expect((await call('GET', '/users/abc', admin)).status).toBe(400);
  });

  it('profile, password, sysadmin and delete', async () => {
    const carol = await call('POST', '/users', admin, { username: 'carol', password: 'Carol-Passw0rd' });
    const id = idOf(carol);
    const self = basicAuth('carol', 'Carol-Passw0rd');
    expect((await call('PUT', `/users/${id}`, self, { realname: 'Carol C', comment: 'hi' })).status).toBe(
      200,
    );
    const profile = (await (await call('GET', `/users/${id}`, self)).json()) as {
      realname: string;
      comment: string;
    };
    expect(profile).toMatchObject({ realname: 'Carol C', comment: 'hi' });

    // Her own password needs the old one; an administrator may reset it without.
    expect(
      (await call('PUT', `/users/${id}/password`, self, { new_password: 'Carol-Passw0rd2' })).status,
    ).toBe(403);
    expect(
      (
        await call('PUT', `/users/${id}/password`, self, {
          old_password: 'wrong',
          new_password: 'Carol-Passw0rd2',
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await call('PUT', `/users/${id}/password`, self, {
          old_password: 'Carol-Passw0rd',
          new_password: 'weak',
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await call('PUT', `/users/${id}/password`, self, {
          old_password: 'Carol-Passw0rd',
          new_password: 'Carol-Passw0rd2',
        })
      ).status,
    ).toBe(200);
    expect((await call('GET', '/users/current', self)).status).toBe(401);
    const renewed = basicAuth('carol', 'Carol-Passw0rd2');
    expect((await call('GET', '/users/current', renewed)).status).toBe(200);
    expect(
      (await call('PUT', `/users/${id}/password`, admin, { new_password: 'Reset-Passw0rd' })).status,
    ).toBe(200);
    const reset = basicAuth('carol', 'Reset-Passw0rd');
    expect((await call('GET', '/users/current', reset)).status).toBe(200);

    expect((await call('PUT', `/users/${id}/sysadmin`, reset, { sysadmin_flag: true })).status).toBe(403);
    expect((await call('PUT', `/users/${id}/sysadmin`, admin, { sysadmin_flag: 'yes' })).status).toBe(400);
    expect((await call('PUT', `/users/${id}/sysadmin`, admin, { sysadmin_flag: true })).status).toBe(200);
    expect((await call('GET', '/users', reset)).status).toBe(200);
    const adminId = ((await (await call('GET', '/users/current', admin)).json()) as { user_id: number })
      .user_id;
    expect((await call('DELETE', `/users/${adminId}`, admin)).status).toBe(403);
    expect((await call('DELETE', `/users/${id}`, admin)).status).toBe(200);
    expect((await call('GET', '/users/current', reset)).status).toBe(401);
  });

  it('current user permissions in a project', async () => {
    const dave = await call('POST', '/users', admin, { username: 'dave', password: 'Dave-Passw0rd' });
    const project = (await (await call('GET', '/projects/perm', admin)).json()) as { project_id: number };
    expect(
      (
        await call('POST', '/projects/perm/members', admin, {
          role_id: 3,
          member_user: { user_id: idOf(dave) },
        })
      ).status,
    ).toBe(201);
    const perms = (await (
      await call(
        'GET',
        `/users/current/permissions?scope=/project/${project.project_id}&relative=true`,
        basicAuth('dave', 'Dave-Passw0rd'),
      )
    ).json()) as Array<{ resource: string; action: string }>;
    expect(perms).toContainEqual({ resource: 'repository', action: 'pull' });
    expect(perms).not.toContainEqual({ resource: 'repository', action: 'push' });
    const absolute = (await (
      await call(
        'GET',
        `/users/current/permissions?scope=/project/${project.project_id}`,
        basicAuth('dave', 'Dave-Passw0rd'),
      )
    ).json()) as Array<{ resource: string }>;
    expect(absolute.every((p) => p.resource.startsWith(`/project/${project.project_id}/`))).toBe(true);
  });
});
