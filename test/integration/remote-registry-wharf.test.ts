import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, type WharfHandle } from '../helpers/server.js';
import { startTestWharf } from '../helpers/test-wharf.js';
import { RemoteError, RemoteRegistry } from '../../src/remote/index.js';
import { remoteContentSuite } from './remote-registry-suite.js';
import { pushTestImage } from './remote-registry-fixtures.js';

// The remote-registry client against a real Wharf as a `harbor` peer: Bearer tokens from Wharf's
// token service (cached per scope), listing through /api/v2.0 with its paging, the OCI referrers
// API, and a session that survives an interrupted chunk.

describe('remote registry client against Wharf', () => {
  let wharf: WharfHandle;
  let client: RemoteRegistry;
  const others: RemoteRegistry[] = [];
  const run = randomBytes(3).toString('hex');
  let n = 0;
  const peer = (accessSecret: string | null) => {
    const c = new RemoteRegistry({
      url: wharf.url,
      type: 'harbor',
      credential: accessSecret === null ? null : { type: 'basic', accessKey: 'admin', accessSecret },
    });
    others.push(c);
    return c;
  };

  beforeAll(async () => {
    wharf = await startTestWharf({ anonymousPull: true });
    // Page size 1: every listing walks Harbor's pages.
    client = new RemoteRegistry({
      url: `${wharf.url}/`,
      type: 'harbor',
      credential: { type: 'basic', accessKey: wharf.adminUser, accessSecret: wharf.adminPassword },
      pageSize: 1,
    });
  });
  afterAll(async () => {
    await Promise.all([client, ...others].map((c) => c?.close()));
    await wharf?.stop();
  });

  it('pings with Bearer auth; a wrong password is unauthorized', async () => {
    expect(await client.ping()).toEqual({ auth: 'bearer' });
    const err = await peer('wrong-Passw0rd')
      .ping()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).kind).toBe('unauthorized');
    expect((err as RemoteError).message).toMatch(/token service .* refused the credentials/);
  });

  remoteContentSuite({
    client: () => client,
    repo: (label) => `test/rr-${run}/${label}-${++n}`,
    referrers: 'api',
    resumesBrokenUploads: true,
  });

  it('reuses a token per scope instead of asking for one per request', async () => {
    const name = `test/rr-${run}/tokens`;
    const image = await pushTestImage(client, name, 'v1');
    // Token requests as the server counted them (a token fetch is no login in the audit log).
    const tokenRequests = async () => {
      const res = await fetch(`${wharf.url}/metrics`, { headers: { authorization: adminAuth(wharf) } });
      expect(res.status).toBe(200);
      const lines = (await res.text()).split('\n');
      return lines
        .filter((l) => l.startsWith('wharf_http_requests_total{') && l.includes('route="/service/token"'))
        .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    };
    const before = await tokenRequests();
    for (let i = 0; i < 10; i++) {
      expect((await client.headManifest(name, 'v1'))?.digest).toBe(image.digest);
      expect(await client.statBlob(name, image.layer.digest)).toEqual({ size: image.layer.size });
    }
    // Twenty requests on one repository: its pull token, fetched once (already cached by the push).
    expect(before).toBeGreaterThan(0); // the push fetched its tokens
    expect((await tokenRequests()) - before).toBeLessThanOrEqual(1);
  });

  it('without credentials sees public content only', async () => {
    const anonymous = peer(null);
    expect(await anonymous.ping()).toEqual({ auth: 'bearer' });
    const image = await pushTestImage(client, `library/rr-${run}`, 'public');
    expect((await anonymous.getManifest(`library/rr-${run}`, 'public'))?.digest).toBe(image.digest);
    const err = await anonymous.getManifest(`test/rr-${run}/tokens`, 'v1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).kind).toBe('unauthorized');
  });
});
