import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, type WharfHandle } from '../helpers/server.js';
import { startTestWharf } from '../helpers/test-wharf.js';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('failed logins are throttled per account', () => {
  let wharf: WharfHandle;
  beforeAll(async () => {
    wharf = await startTestWharf({ projects: [] });
    for (const username of ['victim', 'bystander']) {
      const res = await fetch(`${wharf.url}/api/v2.0/users`, {
        method: 'POST',
        headers: { authorization: adminAuth(wharf), 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: 'Right-Passw0rd' }),
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await wharf?.stop();
  });

  it('locks the account after 10 failures, even for the right password, and leaves others alone', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${wharf.url}/v2/`, {
        headers: { authorization: basic('victim', `wrong-${i}`) },
      });
      expect(res.status).toBe(401);
    }
    const locked = await fetch(`${wharf.url}/v2/`, {
      headers: { authorization: basic('victim', 'Right-Passw0rd') },
    });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await locked.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe(
      'TOOMANYREQUESTS',
    );
    const api = await fetch(`${wharf.url}/api/v2.0/users/current`, {
      headers: { authorization: basic('victim', 'Right-Passw0rd') },
    });
    expect(api.status).toBe(429);
    const other = await fetch(`${wharf.url}/v2/`, {
      headers: { authorization: basic('bystander', 'Right-Passw0rd') },
    });
    expect(other.status).toBe(200);
  });
});
