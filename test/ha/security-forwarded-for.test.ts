import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHaproxy, startNginx, type LoadBalancer } from '../helpers/load-balancer.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';

// Issue #10, point 4: a client cannot choose the address Wharf sees. Through the real nginx and
// HAProxy samples, requests that each forge a different X-Forwarded-For still count against one
// client address: the per-address rate limit (limits.requests_per_minute) stops them. (The
// observable is the generic limit, not the login throttle, whose 429s would also come from the
// real address but follow their own rules.) Both the recommended setting (the balancer's address)
// and `true` from older configuration files (now one hop) hold.

const LIMIT = 30;
const ATTEMPTS = 70;

const forgedAddress = () => `${randomInt(1, 224)}.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

const settings = [
  { name: 'the balancer listed', trustProxy: ['127.0.0.1'] },
  { name: '`true` from an older file', trustProxy: true },
] as const;
const balancers = [
  { kind: 'nginx', start: startNginx },
  { kind: 'haproxy', start: startHaproxy },
] as const;

describe.each(settings)('trust_proxy: $name', ({ trustProxy }) => {
  describe.each(balancers)('through $kind', ({ start }) => {
    let wharf: InProcessWharf;
    let lb: LoadBalancer;

    beforeAll(async () => {
      wharf = await startInProcessWharf({
        http: { trust_proxy: trustProxy },
        limits: { requests_per_minute: LIMIT },
      });
      lb = await start([{ host: '127.0.0.1', port: Number(new URL(wharf.url).port) }]);
    });
    afterAll(async () => {
      await lb?.stop();
      await wharf?.close();
    });

    it('requests with forged X-Forwarded-For addresses are still limited as one client', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < ATTEMPTS; i++) {
        // Some clients send a list, as if earlier proxies had added to it.
        const forged = i % 2 === 0 ? forgedAddress() : `${forgedAddress()}, ${forgedAddress()}`;
        const res = await fetch(`${lb.url}/api/v2.0/users/current`, {
          headers: { 'x-forwarded-for': forged, 'x-real-ip': forgedAddress() },
        });
        const body = await res.text();
        if (res.status === 429) expect(body).toMatch(/too many requests; retry in/);
        statuses.push(res.status);
      }
      const limited = statuses.filter((s) => s === 429).length;
      // At most LIMIT got through (anonymous: 401); the rest were refused by the limit,
      // which only happens if every forged request counted against the same (real) address.
      expect(statuses.length - limited).toBeLessThanOrEqual(LIMIT);
      expect(limited).toBeGreaterThanOrEqual(ATTEMPTS - LIMIT);
      expect(new Set(statuses.filter((s) => s !== 429))).toEqual(new Set([401]));
    });
  });
});
