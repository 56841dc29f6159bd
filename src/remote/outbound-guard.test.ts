import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transport } from './transport.js';
import { OutboundGuard, parseNetwork } from '../net/outbound-guard.js';

// The outbound policy on addresses, and at connect time: a host name is checked on the addresses
// it resolves to when the connection is made (no check-then-connect window for DNS rebinding).

describe('OutboundGuard.permits', () => {
  const guard = new OutboundGuard();

  it('refuses link-local and cloud metadata addresses by default, IPv4-mapped ones too', () => {
    for (const ip of [
      '169.254.169.254',
      '169.254.0.1',
      '::ffff:169.254.169.254',
      'fe80::1',
      'fd00:ec2::254',
      '100.100.100.200',
      '64:ff9b::a9fe:a9fe',
      'fe80::1%eth0',
    ]) {
      expect(guard.permits(ip), ip).toBe(false);
    }
  });

  it('allows loopback, private and public addresses by default', () => {
    for (const ip of [
      '127.0.0.1',
      '::1',
      '10.1.2.3',
      '192.168.1.1',
      'fd00::1',
      '100.100.100.201',
      '8.8.8.8',
    ]) {
      expect(guard.permits(ip), ip).toBe(true);
    }
  });

  it('applies configured deny networks, with allow networks as exceptions to any deny', () => {
    const configured = new OutboundGuard({
      deny_networks: ['10.0.0.0/8', '2001:db8::/32'],
      allow_networks: ['10.5.0.0/16', '169.254.170.2'],
    });
    expect(configured.permits('10.1.2.3')).toBe(false);
    expect(configured.permits('2001:db8::5')).toBe(false);
    expect(configured.permits('10.5.9.9')).toBe(true);
    // An exception to a built-in deny: e.g. a task-metadata endpoint an operator means to reach.
    expect(configured.permits('169.254.170.2')).toBe(true);
    expect(configured.permits('169.254.169.254')).toBe(false);
    // "Only these networks": deny everything, allow the few.
    const only = new OutboundGuard({ deny_networks: ['0.0.0.0/0', '::/0'], allow_networks: ['10.5.0.0/16'] });
    expect(only.permits('8.8.8.8')).toBe(false);
    expect(only.permits('10.5.0.1')).toBe(true);
  });

  it('refuses what is not an IP address', () => {
    expect(guard.permits('localhost')).toBe(false);
  });

  it('parses networks and names a bad entry', () => {
    expect(parseNetwork('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseNetwork('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    expect(() => parseNetwork('10.0.0.0/33')).toThrow(/invalid prefix/);
    expect(() => parseNetwork('example.com')).toThrow(/not an IP address/);
    expect(() => parseNetwork('10.0.0.0/8/1')).toThrow(/not an IP address/);
  });
});

describe('connections through the guard', () => {
  let server: Server;
  let port: number;
  let connections = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const get = async (guard: OutboundGuard, url: string) => {
    const transport = new Transport({ outbound: guard, timeoutMs: 5_000 });
    try {
      const res = await transport.send({ method: 'GET', url });
      await res.body.dump();
      return res.status;
    } finally {
      await transport.close();
    }
  };
  const noLoopback = new OutboundGuard({ deny_networks: ['127.0.0.0/8', '::1/128'], allow_networks: [] });

  it('refuses a host name whose address is denied, before connecting, as a non-retryable error', async () => {
    const before = connections;
    const refused = get(noLoopback, `http://localhost:${port}/`);
    await expect(refused).rejects.toMatchObject({
      name: 'RemoteError',
      kind: 'other',
      message: expect.stringMatching(/localhost \((127\.0\.0\.1|::1)\) are refused by the outbound policy/),
    });
    expect(connections).toBe(before);
  });

  it('refuses an IP literal (no lookup happens for one)', async () => {
    const before = connections;
    await expect(get(noLoopback, `http://127.0.0.1:${port}/`)).rejects.toMatchObject({
      message: expect.stringMatching(/127\.0\.0\.1 are refused by the outbound policy/),
    });
    expect(connections).toBe(before);
  });

  it('lets permitted addresses through, by name and by address', async () => {
    const guard = new OutboundGuard();
    expect(await get(guard, `http://127.0.0.1:${port}/`)).toBe(200);
    expect(await get(guard, `http://localhost:${port}/`)).toBe(200);
  });
});
