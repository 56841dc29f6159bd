import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../metadata/database.js';
import { migrate } from '../metadata/migrate.js';
import { openPgliteDatabase } from '../metadata/pglite-database.js';
import type { Principal } from './principal.js';
import { RegistryEndpointService } from './registry-endpoint-service.js';
import { SecretBox } from './secret-box.js';

// The endpoint service on a real (in-memory) PGlite: the hook policies use to keep an endpoint in
// use from being deleted, and the decrypted configuration replication gets.

const admin: Principal = { kind: 'user', id: 1, username: 'admin', sysadmin: true };

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

describe('RegistryEndpointService', () => {
  let db: Database;
  let service: RegistryEndpointService;
  let url: string;

  beforeAll(async () => {
    db = await openPgliteDatabase(undefined);
    await migrate(db);
    service = new RegistryEndpointService(db, new SecretBox(randomBytes(32)), { checkTimeoutMs: 2_000 });
    url = `http://127.0.0.1:${await closedPort()}`;
  });
  afterAll(async () => {
    await db?.close();
  });

  it('saves an endpoint whose peer is down, as unhealthy', async () => {
    const created = await service.create(admin, { name: 'down', url, type: 'docker-registry' });
    expect(created.status).toBe('unhealthy');
  });

  it('refuses to delete an endpoint a policy uses (412), then deletes it once unused', async () => {
    const endpoint = await service.create(admin, { name: 'used', url, type: 'harbor' });
    const users = new Map<number, string[]>([[endpoint.id, ['hq-to-branch']]]);
    service.addUsageCheck(async (id) => users.get(id) ?? []);
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
      credential: { type: 'basic', access_key: 'robot$sync', access_secret: 'S3cret-value' },
      insecure: true,
    });
    expect(endpoint.credential).toEqual({ type: 'basic', accessKey: 'robot$sync', hasSecret: true });
    expect(await service.remoteConfig(endpoint.id)).toEqual({
      url,
      type: 'docker-registry',
      credential: { type: 'basic', accessKey: 'robot$sync', accessSecret: 'S3cret-value' },
      insecure: true,
      caCertificate: null,
    });
    // Clearing key and secret makes the endpoint anonymous.
    await service.update(admin, endpoint.id, { credential: { access_key: '', access_secret: '' } });
    expect((await service.remoteConfig(endpoint.id)).credential).toBeNull();
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
