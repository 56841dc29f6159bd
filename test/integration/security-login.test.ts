import type * as Crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as Harness from '../helpers/in-process-wharf.js';
import { basicAuth, IN_PROCESS_ADMIN_PASSWORD, type InProcessWharf } from '../helpers/in-process-wharf.js';

// Issue #10, points 5, 7, 13 and 14 (sign-in): each attack is performed against Wharf built in
// this process and driven with inject, from loopback addresses of our choosing (127.0.0.x).

// Every scrypt computation of the process is counted (with its N), so that a test can prove that
// a login for a missing name runs the same KDF as one for a real account, without timing anything.
const kdf = vi.hoisted(() => ({ costs: [] as number[] }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>();
  const scrypt = ((...args: Parameters<typeof actual.scrypt>) => {
    const options = args[3];
    kdf.costs.push(typeof options === 'object' && options.N !== undefined ? options.N : 0);
    return (actual.scrypt as (...a: unknown[]) => void)(...args);
  }) as typeof actual.scrypt;
  return { ...actual, default: { ...actual, scrypt }, scrypt };
});

let harness: typeof Harness | undefined;

/**
 * Starts Wharf from modules evaluated after the mock above: the inprocess project runs several
 * files in one worker without isolating them, so Wharf's modules may have been loaded, with the
 * real node:crypto, by an earlier file. They are loaded afresh here, once per file.
 */
async function startInProcessWharf(
  ...args: Parameters<typeof Harness.startInProcessWharf>
): Promise<InProcessWharf> {
  if (!harness) {
    vi.resetModules();
    harness = await import('../helpers/in-process-wharf.js');
  }
  return harness.startInProcessWharf(...args);
}

const PASSWORD = 'Right-Passw0rd';
const CLEAN = '127.0.0.1';

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

let wharf: InProcessWharf;

async function call(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  options: {
    auth?: string;
    from?: string;
    json?: unknown;
    headers?: Record<string, string>;
    form?: string;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth) headers.authorization = options.auth;
  let payload: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(options.json);
  } else if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = options.form;
  }
  const res = await wharf.app.inject({
    method,
    url,
    headers,
    remoteAddress: options.from ?? CLEAN,
    ...(payload !== undefined && { payload }),
  });
  const retry = res.headers['retry-after'];
  return {
    status: res.statusCode,
    retryAfter: typeof retry === 'string' ? retry : undefined,
    body: res.body,
  };
}

/** Creates a user (without signing in as it, so that no verified credential is remembered). */
async function createUser(username: string): Promise<number> {
  const res = await wharf.app.inject({
    method: 'POST',
    url: '/api/v2.0/users',
    headers: { authorization: wharf.adminAuth, 'content-type': 'application/json' },
    payload: JSON.stringify({ username, password: PASSWORD }),
    remoteAddress: CLEAN,
  });
  expect(res.statusCode, res.body).toBe(201);
  return Number(/\/users\/(\d+)$/.exec(String(res.headers.location))?.[1]);
}

/** Signs in through the portal login from `from`: the cookie and the CSRF token. */
async function portalLogin(username: string, password: string, from: string) {
  const res = await wharf.app.inject({
    method: 'POST',
    url: '/c/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ principal: username, password }).toString(),
    remoteAddress: from,
  });
  expect(res.statusCode, res.body).toBe(200);
  const cookie = String(res.headers['set-cookie']).split(';')[0] as string;
  return { cookie, 'x-harbor-csrf-token': String(res.headers['x-harbor-csrf-token']) };
}

/** A 429 that says when to come back. */
function expectThrottled(answer: Answer): void {
  expect(answer.status, answer.body).toBe(429);
  expect(Number(answer.retryAfter)).toBeGreaterThan(0);
}

async function failLogins(username: string, from: string, count: number): Promise<void> {
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      call('GET', '/v2/', { auth: basicAuth(username, `Wrong-Passw0rd-${i}`), from }),
    ),
  );
  for (const a of answers) expect(a.status).toBe(401);
}

describe('with the default limits: 10 failures per name and address, 50 per address', () => {
  beforeAll(async () => {
    // No projects: nothing signs in as admin before the first test, so no verified credential is
    // remembered when the attack on admin runs.
    wharf = await startInProcessWharf();
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('point 5: 10 bad passwords for admin from one address lock only that address; admin signs in from a clean one', async () => {
    const attacker = '127.0.0.66';
    await failLogins('admin', attacker, 10);
    // The attacker's address is throttled for admin, even with the right password, on every path.
    const admin = basicAuth('admin', IN_PROCESS_ADMIN_PASSWORD);
    expectThrottled(await call('GET', '/v2/', { auth: admin, from: attacker }));
    expectThrottled(await call('GET', '/api/v2.0/users/current', { auth: admin, from: attacker }));
    expectThrottled(
      await call('GET', '/service/token?service=wharf-registry', { auth: admin, from: attacker }),
    );
    expectThrottled(
      await call('POST', '/c/login', {
        from: attacker,
        form: `principal=admin&password=${IN_PROCESS_ADMIN_PASSWORD}`,
      }),
    );
    // Admin, from anywhere else, is not affected: Basic on /v2, the API, the token service, the portal.
    expect(
      (await call('POST', '/c/login', { form: `principal=admin&password=${IN_PROCESS_ADMIN_PASSWORD}` }))
        .status,
    ).toBe(200);
    expect((await call('GET', '/v2/', { auth: admin })).status).toBe(200);
    expect((await call('GET', '/api/v2.0/users/current', { auth: admin })).status).toBe(200);
    expect((await call('GET', '/service/token?service=wharf-registry', { auth: admin })).status).toBe(200);
  });

  it('point 5: an IPv6 client is counted by its /64, not by each of its addresses', async () => {
    for (let i = 1; i <= 10; i++) {
      const from = `2001:db8:5:6::${i.toString(16)}`;
      expect((await call('GET', '/v2/', { auth: basicAuth('admin', `V6-Passw0rd-${i}`), from })).status).toBe(
        401,
      );
    }
    const admin = basicAuth('admin', IN_PROCESS_ADMIN_PASSWORD);
    expectThrottled(await call('GET', '/v2/', { auth: admin, from: '2001:db8:5:6:ffff::99' }));
    expect((await call('GET', '/v2/', { auth: admin, from: '2001:db8:5:7::1' })).status).toBe(200);
  });

  describe('point 14: malformed usernames at login answer 4xx, never 5xx', () => {
    const names: Array<[string, Buffer]> = [
      ['NUL', Buffer.from('ad\0min', 'utf8')],
      ['invalid UTF-8', Buffer.from([0x61, 0xff, 0xfe, 0x62])],
      ['a lone continuation byte', Buffer.from([0x80])],
      ['control characters', Buffer.from('a\u0001\u007f', 'utf8')],
      ['an oversized name', Buffer.from('x'.repeat(100_000))],
    ];
    for (const [label, name] of names) {
      it(`Basic with ${label} in the username: /v2, the API, the token service`, async () => {
        const auth = `Basic ${Buffer.concat([name, Buffer.from(':Some-Passw0rd')]).toString('base64')}`;
        for (const url of ['/v2/', '/api/v2.0/users/current', '/service/token?service=wharf-registry']) {
          const res = await call('GET', url, { auth, from: '127.0.0.72' });
          expect(res.status, `${url}: ${res.body}`).toBe(401);
        }
      });
    }

    it('the portal login form and JSON body with NUL, broken UTF-8 or lone surrogates', async () => {
      const forms = [
        'principal=ad%00min&password=x',
        'principal=%FF%FE&password=x',
        'principal=%C0&password=x',
      ];
      for (const form of forms) {
        const res = await call('POST', '/c/login', { form, from: '127.0.0.73' });
        expect(res.status, `${form}: ${res.body}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${form}: ${res.body}`).toBeLessThan(500);
      }
      for (const payload of [
        '{"principal":"ad\\u0000min","password":"x"}',
        '{"principal":"\\ud800","password":"x"}',
      ]) {
        const res = await wharf.app.inject({
          method: 'POST',
          url: '/c/login',
          headers: { 'content-type': 'application/json' },
          payload,
          remoteAddress: '127.0.0.73',
        });
        expect(res.statusCode, `${payload}: ${res.body}`).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, `${payload}: ${res.body}`).toBeLessThan(500);
      }
    });
  });
});

// At the production KDF cost (the helper lowers it for speed): point 7 checks that cost, and a
// burst of guesses, each checked for as long as a real login takes, is the widest race there is
// between counting a failure and checking the next guess.
describe('with the default limits, at the production KDF cost', () => {
  beforeAll(async () => {
    // No projects: nothing signs in as admin before the burst on admin runs.
    wharf = await startInProcessWharf({ auth: { password_kdf_cost: 17 } });
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('point 5: a burst of parallel guesses gets no more tries than the limit', async () => {
    const attacker = '127.0.0.67';
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call('GET', '/v2/', { auth: basicAuth('admin', `Burst-Passw0rd-${i}`), from: attacker }),
      ),
    );
    const checked = answers.filter((a) => a.status === 401).length;
    expect(checked).toBe(10);
    for (const a of answers.filter((x) => x.status !== 401)) expectThrottled(a);
  });

  it('point 7: a login for a missing name runs the same KDF, at the same cost, as one for a real account', async () => {
    await createUser('existing');
    const costsOf = async (username: string) => {
      kdf.costs.length = 0;
      const res = await call('GET', '/v2/', {
        auth: basicAuth(username, 'Not-The-Passw0rd'),
        from: '127.0.0.71',
      });
      expect(res.status).toBe(401);
      return [...kdf.costs];
    };
    const existing = await costsOf('existing');
    expect(existing).toEqual([131072]);
    expect(await costsOf('missing-user')).toEqual(existing);
    expect(await costsOf('robot$nosuchproject+nobody')).toEqual(existing);
  });
});

// The same rules with lower limits (3 per name and address, 10 per address), so that these tests
// need fewer deliberate failures, each of which costs a real KDF run.
describe('with low limits', () => {
  beforeAll(async () => {
    wharf = await startInProcessWharf({
      login: { max_failures_per_account: 3, max_failures_per_address: 10 },
    });
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('point 5: a CI robot cannot be locked by its name alone', async () => {
    expect(
      (await call('POST', '/api/v2.0/projects', { auth: wharf.adminAuth, json: { project_name: 'ci' } }))
        .status,
    ).toBe(201);
    const created = await call('POST', '/api/v2.0/robots', {
      auth: wharf.adminAuth,
      json: {
        name: 'builder',
        duration: -1,
        level: 'project',
        permissions: [
          { kind: 'project', namespace: 'ci', access: [{ resource: 'repository', action: 'pull' }] },
        ],
      },
    });
    expect(created.status, created.body).toBe(201);
    const robot = JSON.parse(created.body) as { name: string; secret: string };
    await failLogins(robot.name, '127.0.0.67', 3);
    expectThrottled(
      await call('GET', '/v2/', { auth: basicAuth(robot.name, robot.secret), from: '127.0.0.67' }),
    );
    // The build agents keep pushing and pulling from their own address.
    expect(
      (await call('GET', '/v2/', { auth: basicAuth(robot.name, robot.secret), from: '127.0.0.8' })).status,
    ).toBe(200);
    const token = await call('GET', '/service/token?service=wharf-registry&scope=repository:ci/app:pull', {
      auth: basicAuth(robot.name, robot.secret),
      from: '127.0.0.8',
    });
    expect(token.status).toBe(200);
  });

  it('point 5: spraying from one address does not lock out the people who sign in from it', async () => {
    const shared = '127.0.0.68'; // a NAT, or the load balancer when http.trust_proxy is off
    const regularId = await createUser('regular');
    await createUser('newcomer');
    // regular works behind the shared address; newcomer never signed in from it.
    expect((await call('GET', '/v2/', { auth: basicAuth('regular', PASSWORD), from: shared })).status).toBe(
      200,
    );
    // A new password (set by an administrator) makes sure no verified credential is remembered.
    const reset = await call('PUT', `/api/v2.0/users/${regularId}/password`, {
      auth: wharf.adminAuth,
      json: { new_password: 'Regular-N3w-Passw0rd' },
    });
    expect(reset.status, reset.body).toBe(200);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call('GET', '/v2/', { auth: basicAuth(`sprayed-${i}`, 'Summer2026!'), from: shared }),
      ),
    );
    for (const a of answers) expect(a.status).toBe(401);
    // The sprayer cannot try further names from there...
    expectThrottled(
      await call('GET', '/v2/', { auth: basicAuth('sprayed-99', 'Summer2026!'), from: shared }),
    );
    expectThrottled(await call('GET', '/v2/', { auth: basicAuth('newcomer', PASSWORD), from: shared }));
    // ...but whoever signed in from that address before keeps doing so, and newcomer does elsewhere.
    const regular = await call('POST', '/c/login', {
      from: shared,
      form: 'principal=regular&password=Regular-N3w-Passw0rd',
    });
    expect(regular.status, regular.body).toBe(200);
    expect(
      (await call('GET', '/v2/', { auth: basicAuth('newcomer', PASSWORD), from: '127.0.0.9' })).status,
    ).toBe(200);
  });

  it('point 5: a system administrator sees and lifts locks; nobody else may', async () => {
    const victimId = await createUser('locked-out');
    const from = '127.0.0.69';
    await failLogins('locked-out', from, 3);
    const victim = basicAuth('locked-out', PASSWORD);
    expectThrottled(await call('GET', '/v2/', { auth: victim, from }));

    const listed = await call('GET', '/api/v2.0/login-locks', { auth: wharf.adminAuth });
    expect(listed.status).toBe(200);
    const locks = JSON.parse(listed.body) as Array<{
      principal: string | null;
      address: string;
      locked_until: string;
    }>;
    expect(locks).toContainEqual(expect.objectContaining({ principal: 'locked-out', address: from }));

    // The locked user (or anyone but a sysadmin) cannot lift it.
    expect((await call('DELETE', `/api/v2.0/users/${victimId}/login-locks`, { auth: victim })).status).toBe(
      403,
    );
    expect((await call('GET', '/api/v2.0/login-locks', { auth: victim })).status).toBe(403);
    expect((await call('DELETE', '/api/v2.0/login-locks', { auth: wharf.adminAuth })).status).toBe(400);

    expect(
      (await call('DELETE', `/api/v2.0/users/${victimId}/login-locks`, { auth: wharf.adminAuth })).status,
    ).toBe(200);
    expect((await call('GET', '/v2/', { auth: victim, from })).status).toBe(200);

    // By name and address (robots too): only that pair is lifted.
    await failLogins('locked-out', '127.0.0.74', 3);
    expectThrottled(await call('GET', '/v2/', { auth: victim, from: '127.0.0.74' }));
    const lifted = await call('DELETE', '/api/v2.0/login-locks?principal=locked-out&address=127.0.0.74', {
      auth: wharf.adminAuth,
    });
    expect(lifted.status).toBe(200);
    expect((await call('GET', '/v2/', { auth: victim, from: '127.0.0.74' })).status).toBe(200);
  });
  it('point 13: the old password of a password change is checked like a login: guessing it is throttled per address, and a 429 says when to come back', async () => {
    const id = await createUser('changer');
    const from = '127.0.0.70';
    // The attacker holds the user's session (a stolen cookie), not the password, and guesses it.
    const stolen = await portalLogin('changer', PASSWORD, from);
    for (let i = 0; i < 3; i++) {
      const wrong = await call('PUT', `/api/v2.0/users/${id}/password`, {
        headers: stolen,
        from,
        json: { old_password: `Guess-${i}-Passw0rd`, new_password: 'Taken-0ver-Passw0rd' },
      });
      expect(wrong.status, wrong.body).toBe(403);
    }
    expectThrottled(
      await call('PUT', `/api/v2.0/users/${id}/password`, {
        headers: stolen,
        from,
        json: { old_password: PASSWORD, new_password: 'Taken-0ver-Passw0rd' },
      }),
    );
    // The owner, elsewhere, still changes it (and ends every session, the stolen one included).
    const own = await portalLogin('changer', PASSWORD, '127.0.0.10');
    const changed = await call('PUT', `/api/v2.0/users/${id}/password`, {
      headers: own,
      from: '127.0.0.10',
      json: { old_password: PASSWORD, new_password: 'Owner-N3w-Passw0rd' },
    });
    expect(changed.status, changed.body).toBe(200);
    expect((await call('GET', '/api/v2.0/users/current', { headers: stolen, from })).status).toBe(401);
  });
});
