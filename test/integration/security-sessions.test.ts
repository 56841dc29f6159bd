import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/poll.js';
import {
  basicAuth,
  IN_PROCESS_ADMIN_PASSWORD,
  startInProcessWharf,
  type InProcessWharf,
} from '../helpers/in-process-wharf.js';
import { testDatabaseUrl } from '../helpers/postgres.js';

// Issue #10, points 8 and 13 (sessions): a session ends when its user's password changes or the
// user goes, on every instance; it has an absolute lifetime; its cookie is Secure when the
// external URL is https; another site cannot end it.

const PASSWORD = 'Session-Passw0rd';

// A type, not an interface: it is passed as a headers record.
type Session = {
  cookie: string;
  'x-harbor-csrf-token': string;
};

async function login(wharf: InProcessWharf, username: string, password = PASSWORD) {
  const res = await wharf.app.inject({
    method: 'POST',
    url: '/c/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ principal: username, password }).toString(),
  });
  expect(res.statusCode, res.body).toBe(200);
  const setCookie = String(res.headers['set-cookie']);
  const session: Session = {
    cookie: setCookie.split(';')[0] as string,
    'x-harbor-csrf-token': String(res.headers['x-harbor-csrf-token']),
  };
  return { session, setCookie };
}

/** Whether the session still signs its holder in. */
async function alive(wharf: InProcessWharf, session: Session): Promise<boolean> {
  const res = await wharf.app.inject({
    method: 'GET',
    url: '/api/v2.0/users/current',
    headers: { cookie: session.cookie },
  });
  expect([200, 401]).toContain(res.statusCode);
  return res.statusCode === 200;
}

async function api(
  wharf: InProcessWharf,
  method: 'POST' | 'PUT' | 'DELETE',
  url: string,
  headers: Record<string, string>,
  body?: unknown,
) {
  const res = await wharf.app.inject({
    method,
    url,
    headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { payload: JSON.stringify(body) }),
  });
  return res;
}

async function createUser(wharf: InProcessWharf, username: string): Promise<number> {
  const res = await api(
    wharf,
    'POST',
    '/api/v2.0/users',
    { authorization: wharf.adminAuth },
    {
      username,
      password: PASSWORD,
    },
  );
  expect(res.statusCode, res.body).toBe(201);
  return Number(/\/users\/(\d+)$/.exec(String(res.headers.location))?.[1]);
}

describe('one instance', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessWharf();
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it("point 8: the user's own password change ends every session of the user, that one included", async () => {
    const id = await createUser(wharf, 'self-changer');
    const { session: laptop } = await login(wharf, 'self-changer');
    const { session: stolen } = await login(wharf, 'self-changer');
    const changed = await api(wharf, 'PUT', `/api/v2.0/users/${id}/password`, laptop, {
      old_password: PASSWORD,
      new_password: 'Changed-Passw0rd',
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(await alive(wharf, stolen)).toBe(false);
    expect(await alive(wharf, laptop)).toBe(false);
    await login(wharf, 'self-changer', 'Changed-Passw0rd');
  });

  it("point 8: an administrator's reset and a deletion end the user's sessions", async () => {
    const id = await createUser(wharf, 'reset-me');
    const { session } = await login(wharf, 'reset-me');
    expect(await alive(wharf, session)).toBe(true);
    const reset = await api(
      wharf,
      'PUT',
      `/api/v2.0/users/${id}/password`,
      { authorization: wharf.adminAuth },
      {
        new_password: 'Reset-By-Adm1n',
      },
    );
    expect(reset.statusCode, reset.body).toBe(200);
    expect(await alive(wharf, session)).toBe(false);

    const { session: again } = await login(wharf, 'reset-me', 'Reset-By-Adm1n');
    expect(await alive(wharf, again)).toBe(true);
    const deleted = await api(wharf, 'DELETE', `/api/v2.0/users/${id}`, { authorization: wharf.adminAuth });
    expect(deleted.statusCode).toBe(200);
    expect(await alive(wharf, again)).toBe(false);
  });

  it('point 13: another site cannot sign the user out (logout needs the CSRF token)', async () => {
    await createUser(wharf, 'browsing');
    const { session } = await login(wharf, 'browsing');
    // What a link, an <img> or a form on another site makes the browser send: the cookie only.
    for (const method of ['GET', 'POST'] as const) {
      const forged = await wharf.app.inject({
        method,
        url: '/c/log_out',
        headers: { cookie: session.cookie },
      });
      expect(forged.statusCode, forged.body).toBe(403);
      expect(await alive(wharf, session)).toBe(true);
    }
    const wrong = await wharf.app.inject({
      method: 'GET',
      url: '/c/log_out',
      headers: { cookie: session.cookie, 'x-harbor-csrf-token': 'x'.repeat(43) },
    });
    expect(wrong.statusCode).toBe(403);
    expect(await alive(wharf, session)).toBe(true);
    // The portal itself sends the token it was given at login.
    const out = await wharf.app.inject({ method: 'POST', url: '/c/log_out', headers: { ...session } });
    expect(out.statusCode).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/^sid=; .*Max-Age=0/);
    expect(await alive(wharf, session)).toBe(false);
  });

  it('point 13: without an https external URL, a plain-http login sets no Secure cookie', async () => {
    const { setCookie } = await login(wharf, 'admin', IN_PROCESS_ADMIN_PASSWORD);
    expect(setCookie).toMatch(/^sid=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200$/);
  });
});

describe('an https external URL and a short absolute lifetime', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessWharf({
      http: { external_url: 'https://registry.example.test' },
      login: { session_idle_seconds: 3600, session_max_seconds: 2 },
    });
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('point 13: the cookie is Secure although the request came over plain http (TLS ends at the proxy)', async () => {
    const { setCookie } = await login(wharf, 'admin', IN_PROCESS_ADMIN_PASSWORD);
    expect(setCookie).toMatch(/; Secure$/);
    expect(setCookie).toMatch(/; Max-Age=2;/);
  });

  it('point 8: a session in use still ends at its absolute lifetime', async () => {
    const { session } = await login(wharf, 'admin', IN_PROCESS_ADMIN_PASSWORD);
    // The session was created before this instant, so it ends by started + 2 s at the latest.
    const started = Date.now();
    // Used all along, until it ends: the idle timeout (an hour) never applies. It still answers a
    // second into its life, and it does end (its 2 s lifetime runs out) though in use.
    let usedAfterASecond = false;
    await waitFor('the session in use to reach its absolute lifetime', async () => {
      if (!(await alive(wharf, session))) return true;
      usedAfterASecond ||= Date.now() - started >= 1_000;
      return false;
    });
    expect(usedAfterASecond).toBe(true);
  });
});

describe('two instances on one database (point 8: "on every instance")', () => {
  let a: InProcessWharf;
  let b: InProcessWharf;
  beforeAll(async () => {
    // Two instances need a database they can share: a real PostgreSQL, in both test projects.
    const databaseUrl = await testDatabaseUrl();
    a = await startInProcessWharf({}, { databaseUrl });
    b = await startInProcessWharf({}, { databaseUrl });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('a session opened through A is refused at A once B resets the password or deletes the user', async () => {
    const id = await createUser(b, 'roaming');
    const { session } = await login(a, 'roaming');
    expect(await alive(a, session)).toBe(true);
    expect(await alive(b, session)).toBe(true);
    const reset = await api(
      b,
      'PUT',
      `/api/v2.0/users/${id}/password`,
      { authorization: b.adminAuth },
      {
        new_password: 'Roaming-N3w-Passw0rd',
      },
    );
    expect(reset.statusCode, reset.body).toBe(200);
    expect(await alive(a, session)).toBe(false);
    // The old password no longer works at A either, though A verified it a moment ago.
    const old = await a.app.inject({
      method: 'GET',
      url: '/api/v2.0/users/current',
      headers: { authorization: basicAuth('roaming', PASSWORD) },
    });
    expect(old.statusCode).toBe(401);

    const { session: next } = await login(a, 'roaming', 'Roaming-N3w-Passw0rd');
    expect(await alive(a, next)).toBe(true);
    expect((await api(b, 'DELETE', `/api/v2.0/users/${id}`, { authorization: b.adminAuth })).statusCode).toBe(
      200,
    );
    expect(await alive(a, next)).toBe(false);
  });
});
