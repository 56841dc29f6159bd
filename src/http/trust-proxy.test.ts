import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { trustProxySchema, type TrustProxySetting } from '../config/network-schema.js';
import { fastifyTrustProxy, trustProxyWarning } from './trust-proxy.js';

// http.trust_proxy decides request.ip, which rate limits, the login throttle and the audit log's
// client_ip use. A client writes X-Forwarded-For itself; only what trusted proxies appended counts.

/** request.ip for a request from `socket` carrying `forwarded` as X-Forwarded-For. */
async function clientIp(setting: TrustProxySetting, socket: string, forwarded?: string): Promise<string> {
  const app = Fastify({ trustProxy: fastifyTrustProxy(trustProxySchema.parse(setting)) });
  app.get('/', async (request) => ({ ip: request.ip, protocol: request.protocol }));
  const res = await app.inject({
    method: 'GET',
    url: '/',
    remoteAddress: socket,
    headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded, 'x-forwarded-proto': 'https' },
  });
  await app.close();
  return (res.json() as { ip: string }).ip;
}

const FORGED = '6.6.6.6';

describe('http.trust_proxy', () => {
  it('false: the socket address, whatever the header says', async () => {
    expect(await clientIp(false, '127.0.0.1', FORGED)).toBe('127.0.0.1');
  });

  it('true (older files) is one hop: a forged left-most address is never the client', async () => {
    // nginx's $proxy_add_x_forwarded_for appends the real address to what the client sent.
    expect(await clientIp(true, '127.0.0.1', `${FORGED}, 10.1.2.3`)).toBe('10.1.2.3');
    expect(await clientIp(true, '127.0.0.1', '10.1.2.3')).toBe('10.1.2.3');
    expect(await clientIp(true, '127.0.0.1')).toBe('127.0.0.1');
  });

  it('a hop count trusts that many proxies from the right', async () => {
    expect(await clientIp(1, '127.0.0.1', `${FORGED}, 10.1.2.3, 10.9.9.9`)).toBe('10.9.9.9');
    expect(await clientIp(2, '127.0.0.1', `${FORGED}, 10.1.2.3, 10.9.9.9`)).toBe('10.1.2.3');
  });

  it('a list believes only the listed proxies: the client is the right-most address not listed', async () => {
    const lbs = ['127.0.0.1', '10.0.0.0/24'];
    expect(await clientIp(lbs, '127.0.0.1', `${FORGED}, 192.0.2.7`)).toBe('192.0.2.7');
    // Through a second listed proxy, one step further left.
    expect(await clientIp(lbs, '127.0.0.1', `${FORGED}, 192.0.2.7, 10.0.0.8`)).toBe('192.0.2.7');
    // A client connecting from an address that is not a proxy cannot forge anything.
    expect(await clientIp(lbs, '192.0.2.50', FORGED)).toBe('192.0.2.50');
    expect(await clientIp(['loopback'], '127.0.0.1', `${FORGED}, 192.0.2.7`)).toBe('192.0.2.7');
  });

  it('refuses values that are not addresses, CIDRs, range names or hop counts', () => {
    expect(trustProxySchema.safeParse(['10.0.0.0/33']).success).toBe(false);
    expect(trustProxySchema.safeParse(['lb.example']).success).toBe(false);
    expect(trustProxySchema.safeParse([]).success).toBe(false);
    expect(trustProxySchema.safeParse(0).success).toBe(false);
    expect(trustProxySchema.safeParse('true').success).toBe(false);
    expect(trustProxySchema.parse(undefined)).toBe(false);
  });

  it('warns about `true` only', () => {
    expect(trustProxyWarning(true)).toMatch(/one proxy hop/);
    expect(trustProxyWarning(false)).toBeNull();
    expect(trustProxyWarning(['10.0.0.5'])).toBeNull();
    expect(trustProxyWarning(1)).toBeNull();
  });
});
