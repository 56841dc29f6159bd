import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteError, RemoteRegistry } from '../../src/remote/index.js';
import { startTlsRegistry, type TlsRegistry } from './remote-registry-fixtures.js';

// TLS to a peer with a certificate no system CA signed: refused by default (with a message that
// says what to do), trusted through the endpoint's CA bundle, or accepted when marked insecure.

describe('remote registry client over TLS', () => {
  let peer: TlsRegistry;
  const clients: RemoteRegistry[] = [];
  const make = (options: { insecure?: boolean; caCertificate?: string }) => {
    const c = new RemoteRegistry({ url: peer.url, type: 'docker-registry', timeoutMs: 10_000, ...options });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    peer = await startTlsRegistry();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await peer?.stop();
  });

  it('refuses an untrusted certificate, not as a reason to retry', async () => {
    const err = await make({})
      .ping()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).kind).toBe('other');
    expect((err as RemoteError).message).toMatch(/not trusted .*CA bundle or mark it insecure/);
  });

  it('trusts the certificate through the CA bundle', async () => {
    expect(await make({ caCertificate: peer.certificate }).ping()).toEqual({ auth: 'none' });
  });

  it('accepts any certificate when insecure', async () => {
    expect(await make({ insecure: true }).ping()).toEqual({ auth: 'none' });
  });
});
