import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('failed logins are throttled per account', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: [] });
    for (const username of ['victim', 'bystander']) {
      const res = await wharf.fetch(`${wharf.url}/api/v2.0/users`, {
        method: 'POST',
        headers: { authorization: adminAuth(wharf), 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: 'Right-Passw0rd' }),
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('locks the account after 10 failures, even for the right password, and leaves others alone', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await wharf.fetch(`${wharf.url}/v2/`, {
        headers: { authorization: basic('victim', `wrong-${i}`) },
      });
      expect(res.status).toBe(401);
    }
    const locked = await wharf.fetch(`${wharf.url}/v2/`, {
      headers: { authorization: basic('victim', 'Right-Passw0rd') },
    });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await locked.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe(
      'TOOMANYREQUESTS',
    );
    const api = await wharf.fetch(`${wharf.url}/api/v2.0/users/current`, {
      headers: { authorization: basic('victim', 'Right-Passw0rd') },
    });
    expect(api.status).toBe(429);
    const other = await wharf.fetch(`${wharf.url}/v2/`, {
      headers: { authorization: basic('bystander', 'Right-Passw0rd') },
    });
    expect(other.status).toBe(200);
  });
});
