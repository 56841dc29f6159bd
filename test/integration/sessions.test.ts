import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { eventually } from '../helpers/poll.js';

// Portal-style sessions: a cookie kept in the database (so any instance serves it), CSRF
// protection on cookie-authenticated writes, logout.

async function login(wharf: InProcessWharf, principal: string, password: string): Promise<Response> {
  return wharf.fetch(`${wharf.url}/c/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ principal, password }).toString(),
  });
}

describe('login sessions', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: [] });
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('logs in with a cookie, refuses cookie writes without the CSRF token, and logs out', async () => {
    expect((await login(wharf, 'admin', 'wrong-password')).status).toBe(401);
    const res = await login(wharf, 'admin', wharf.adminPassword);
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^sid=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax/);
    const cookie = setCookie.split(';')[0] as string;
    const csrf = res.headers.get('x-harbor-csrf-token') as string;
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{20,}$/);

    const me = await wharf.fetch(`${wharf.url}/api/v2.0/users/current`, { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { username: string }).username).toBe('admin');

    const create = (headers: Record<string, string>) =>
      wharf.fetch(`${wharf.url}/api/v2.0/projects`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ project_name: `session-${Object.keys(headers).length}` }),
      });
    const forged = await create({});
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('FORBIDDEN');
    expect((await create({ 'x-harbor-csrf-token': 'not-the-token-at-all-000000' })).status).toBe(403);
    expect((await create({ 'x-harbor-csrf-token': csrf })).status).toBe(201);

    // Basic-authenticated writes need no CSRF token: no browser sends them on its own.
    const basic = await wharf.fetch(`${wharf.url}/api/v2.0/projects`, {
      method: 'POST',
      headers: { authorization: adminAuth(wharf), 'content-type': 'application/json' },
      body: JSON.stringify({ project_name: 'session-basic' }),
    });
    expect(basic.status).toBe(201);

    // The sign-in's entry is written when its event is dispatched (issue #11): wait for it.
    const logins = async () => {
      const audit = await wharf.fetch(`${wharf.url}/api/v2.0/audit-logs?q=operation%3Dlogin`, {
        headers: { cookie },
      });
      return (await audit.json()) as Array<{ username: string; operation: string }>;
    };
    const entries = await eventually('the login entry', logins, (l) => l.length > 0);
    expect(entries.some((e) => e.username === 'admin' && e.operation === 'login')).toBe(true);

    // The logout needs the CSRF token too: with the cookie alone, any site could sign users out.
    expect((await wharf.fetch(`${wharf.url}/c/log_out`, { headers: { cookie } })).status).toBe(403);
    const out = await wharf.fetch(`${wharf.url}/c/log_out`, {
      headers: { cookie, 'x-harbor-csrf-token': csrf },
    });
    expect(out.status).toBe(200);
    const after = await wharf.fetch(`${wharf.url}/api/v2.0/users/current`, { headers: { cookie } });
    expect(after.status).toBe(401);
  });

  it('a session survives a restart of the instance (it lives in the database)', async () => {
    const res = await login(wharf, 'admin', wharf.adminPassword);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
    await wharf.restart();
    const me = await wharf.fetch(`${wharf.url}/api/v2.0/users/current`, { headers: { cookie } });
    expect(me.status).toBe(200);
  });
});
