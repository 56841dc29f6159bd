import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../metadata/database.js';
import { openMigratedMemoryDatabase } from '../../test/helpers/memory-database.js';
import type { Principal } from './principal.js';
import { MASKED_SECRET, RegistryEndpointService } from './registry-endpoint-service.js';
import { SecretBox } from './secret-box.js';
import { OutboundGuard } from '../net/outbound-guard.js';
import { freePort } from '../../test/helpers/ports.js';

// The endpoint service on a real (in-memory) PGlite: the hook policies use to keep an endpoint in
// use from being deleted, and the decrypted configuration replication gets.

const admin: Principal = { kind: 'user', id: 1, username: 'admin', sysadmin: true };
const guard = new OutboundGuard({ deny_networks: ['192.0.2.0/24'], allow_networks: [] });

describe('RegistryEndpointService', () => {
  let db: Database;
  let service: RegistryEndpointService;
  let url: string;
  // What the replication policies would answer: endpoint id -> names of the policies using it.
  const users = new Map<number, string[]>();

  beforeAll(async () => {
    db = await openMigratedMemoryDatabase();
    url = `http://127.0.0.1:${await freePort()}`;
    service = new RegistryEndpointService(db, new SecretBox(randomBytes(32)), {
      checkTimeoutMs: 2_000,
      outbound: guard,
      tokenRealms: { [new URL(url).host]: ['auth.example.com'] },
      usageChecks: [async (id) => users.get(id) ?? []],
    });
    // Opening PGlite and migrating can take a while on a busy machine.
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('saves an endpoint whose peer is down, as unhealthy', async () => {
    const created = await service.create(admin, { name: 'down', url, type: 'docker-registry' });
    expect(created.status).toBe('unhealthy');
  });

  it('refuses to delete an endpoint a policy uses (412), then deletes it once unused', async () => {
    const endpoint = await service.create(admin, { name: 'used', url, type: 'harbor' });
    users.set(endpoint.id, ['hq-to-branch']);
    await expect(service.delete(admin, endpoint.id)).rejects.toMatchObject({
      kind: 'precondition',
      message: expect.stringMatching(/used by replication policies \(hq-to-branch\)/),
    });
    users.delete(endpoint.id);
    await service.delete(admin, endpoint.id);
    await expect(service.get(admin, endpoint.id)).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('gives replication the decrypted credential and TLS settings', async () => {
    const endpoint = await service.create(admin, {
      name: 'with-secret',
      url: `${url}/`,
      type: 'docker-registry',
      credential: { type: 'basic', accessKey: 'robot$sync', accessSecret: 'S3cret-value' },
      insecure: true,
    });
    expect(endpoint.credential).toEqual({ type: 'basic', accessKey: 'robot$sync', hasSecret: true });
    expect(await service.remoteConfig(endpoint.id)).toEqual({
      url,
      type: 'docker-registry',
      credential: { type: 'basic', accessKey: 'robot$sync', accessSecret: 'S3cret-value' },
      insecure: true,
      caCertificate: null,
      // Every connection passes the configured outbound guard.
      outbound: guard,
      trustedRealmHosts: ['auth.example.com'],
    });
    // Clearing key and secret makes the endpoint anonymous.
    await service.update(admin, endpoint.id, { credential: { accessKey: '', accessSecret: '' } });
    expect((await service.remoteConfig(endpoint.id)).credential).toBeNull();
  });

  it('keeps a stored credential bound to its origin; the realms trusted for a host come along', async () => {
    const endpoint = await service.create(admin, {
      name: 'bound',
      url,
      type: 'docker-registry',
      credential: { type: 'basic', accessKey: 'sync', accessSecret: 'Bound-Secret-1' },
    });
    const elsewhere = `http://127.0.0.1:${await freePort()}`;
    for (const attempt of [
      () => service.update(admin, endpoint.id, { url: elsewhere }),
      () => service.ping(admin, { kind: 'stored', id: endpoint.id, changes: { url: elsewhere } }),
      () => service.update(admin, endpoint.id, { url: url.replace('127.0.0.1', 'localhost') }),
    ]) {
      await expect(attempt()).rejects.toMatchObject({
        kind: 'invalid',
        message: expect.stringMatching(/stored credential .* is sent to http:\/\/127\.0\.0\.1:\d+ only/),
      });
    }
    expect((await service.remoteConfig(endpoint.id)).url).toBe(url);
    // Given again, the secret may go with the endpoint to its new address; so may the same
    // host's https, and another path on the same origin.
    await service.update(admin, endpoint.id, {
      url: elsewhere,
      credential: { accessSecret: 'Bound-Secret-1' },
    });
    await service.update(admin, endpoint.id, { url: `${elsewhere}/mirror` });
    await service.update(admin, endpoint.id, { url: elsewhere.replace('http:', 'https:') });
    expect((await service.remoteConfig(endpoint.id)).url).toBe(elsewhere.replace('http:', 'https:'));

    // outbound.token_realms, by the endpoint's host and port.
    expect((await service.remoteConfig(endpoint.id)).trustedRealmHosts).toEqual([]);
    await service.update(admin, endpoint.id, { url, credential: { accessSecret: 'Bound-Secret-1' } });
    expect((await service.remoteConfig(endpoint.id)).trustedRealmHosts).toEqual(['auth.example.com']);
  });

  it('keeps the stored secret when the masked value comes back, and takes a new one', async () => {
    const endpoint = await service.create(admin, {
      name: 'masked',
      url,
      type: 'docker-registry',
      credential: { type: 'basic', accessKey: 'sync', accessSecret: 'First-Secret-1' },
    });
    await service.update(admin, endpoint.id, {
      description: 'edited in the portal',
      credential: { accessKey: 'sync', accessSecret: MASKED_SECRET },
    });
    expect((await service.remoteConfig(endpoint.id)).credential).toMatchObject({
      accessSecret: 'First-Secret-1',
    });
    await service.update(admin, endpoint.id, { credential: { accessSecret: 'Second-Secret-2' } });
    expect((await service.remoteConfig(endpoint.id)).credential).toEqual({
      type: 'basic',
      accessKey: 'sync',
      accessSecret: 'Second-Secret-2',
    });
    // An oauth credential needs a secret of its own; a basic one a key too.
    await expect(
      service.create(admin, { name: 'no-key', url, type: 'harbor', credential: { accessSecret: 's' } }),
    ).rejects.toMatchObject({ kind: 'invalid', message: expect.stringMatching(/needs access_key/) });
  });

  it('says what policies can use with each type of endpoint', async () => {
    const harbor = await service.create(admin, { name: 'caps-harbor', url, type: 'harbor' });
    const plain = await service.create(admin, { name: 'caps-plain', url, type: 'docker-registry' });
    expect(await service.capabilities(admin, harbor.id)).toMatchObject({
      type: 'harbor',
      filterTypes: ['name', 'tag', 'label', 'resource'],
      resourceValues: ['image', 'artifact'],
      triggers: ['manual', 'scheduled', 'event_based'],
    });
    expect(await service.capabilities(admin, plain.id)).toMatchObject({
      type: 'docker-registry',
      filterTypes: ['name', 'tag'],
      resourceValues: [],
    });
  });

  it('is for system administrators only', async () => {
    await expect(service.list({ kind: 'anonymous' }, {}, 0, 10)).rejects.toMatchObject({
      kind: 'unauthorized',
    });
    await expect(
      service.list({ kind: 'user', id: 2, username: 'u', sysadmin: false }, {}, 0, 10),
    ).rejects.toMatchObject({ kind: 'forbidden' });
  });
});
