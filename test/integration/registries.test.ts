import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgliteDatabase } from '../../src/metadata/pglite-database.js';
import { openPostgresDatabase } from '../../src/metadata/postgres-database.js';
import type { RegistryRow } from '../../src/metadata/registries-table.js';
import { apiCaller, basicAuth, createdId } from '../helpers/api-client.js';
import { startDockerRegistry, type DockerRegistryHandle } from '../helpers/docker-registry.js';
import { freePort } from '../helpers/ports.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import {
  PEER_PASSWORD,
  PEER_USER,
  startHtpasswdRegistry,
  startTlsRegistry,
  type HtpasswdRegistry,
  type TlsRegistry,
} from './remote-registry-fixtures.js';

// /api/v2.0/registries in Harbor's shapes: CRUD, ping (by id and by description), info, adapters;
// the secret never comes back and is stored encrypted; system administrators only; bad input is a
// 400 that says what is wrong.

interface RegistryJson {
  id: number;
  name: string;
  url: string;
  type: string;
  description: string;
  insecure: boolean;
  credential: { type: string; access_key: string; access_secret: string };
  ca_certificate: string;
  status: string;
  creation_time: string;
  update_time: string;
}

const SECRET = PEER_PASSWORD;

describe('/api/v2.0/registries', () => {
  let wharf: InProcessWharf;
  let plain: DockerRegistryHandle;
  let basicPeer: HtpasswdRegistry;
  let tlsPeer: TlsRegistry;
  let admin: string;
  const user = basicAuth('reg-user', 'Reg-User-Passw0rd');
  const call = apiCaller(() => wharf);
  const errorOf = async (res: Response) =>
    ((await res.json()) as { errors: Array<{ code: string; message: string }> }).errors[0];

  beforeAll(async () => {
    // The in-process handle keeps its data directory until close(): the last test reads it after
    // stop(), so the database is on disk there.
    [wharf, plain, basicPeer, tlsPeer] = await Promise.all([
      startInProcessTestWharf({ storage: 'disk' }),
      startDockerRegistry(),
      startHtpasswdRegistry(),
      startTlsRegistry(),
    ]);
    admin = adminAuth(wharf);
    expect(
      (await call('POST', '/users', admin, { username: 'reg-user', password: 'Reg-User-Passw0rd' })).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await Promise.all([wharf?.close(), plain?.stop(), basicPeer?.stop(), tlsPeer?.stop()]);
  });

  it('lists the adapter types', async () => {
    const res = await call('GET', '/replication/adapters', admin);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(['docker-registry', 'harbor']);
  });

  it('creates, reads, lists, updates and deletes an endpoint; the secret never comes back', async () => {
    const created = await call('POST', '/registries', admin, {
      name: 'branch-1',
      url: `${basicPeer.url}/`,
      type: 'docker-registry',
      description: 'first branch',
      credential: { type: 'basic', access_key: PEER_USER, access_secret: SECRET },
      insecure: false,
    });
    expect(created.status).toBe(201);
    const id = createdId(created);
    expect(created.headers.get('location')).toBe(`/api/v2.0/registries/${id}`);

    const got = await call('GET', `/registries/${id}`, admin);
    expect(got.status).toBe(200);
    const text = await got.text();
    expect(text).not.toContain(SECRET);
    const json = JSON.parse(text) as RegistryJson;
    expect(json).toMatchObject({
      id,
      name: 'branch-1',
      url: basicPeer.url,
      type: 'docker-registry',
      description: 'first branch',
      insecure: false,
      credential: { type: 'basic', access_key: PEER_USER, access_secret: '*****' },
      ca_certificate: '',
      status: 'healthy',
    });

    const second = await call('POST', '/registries', admin, {
      name: 'plain-peer',
      url: plain.url,
      type: 'docker-registry',
    });
    expect(second.status).toBe(201);
    const list = await call('GET', '/registries?q=name%3D~branch&page=1&page_size=10', admin);
    expect(list.headers.get('x-total-count')).toBe('1');
    const listed = (await list.json()) as RegistryJson[];
    expect(listed.map((r) => r.name)).toEqual(['branch-1']);
    expect(JSON.stringify(listed)).not.toContain(SECRET);
    const paged = await call('GET', '/registries?page=1&page_size=1', admin);
    expect(Number(paged.headers.get('x-total-count'))).toBeGreaterThanOrEqual(2);
    expect(paged.headers.get('link')).toContain('rel="next"');
    expect(
      ((await (await call('GET', '/registries?name=plain', admin)).json()) as RegistryJson[]).map(
        (r) => r.name,
      ),
    ).toEqual(['plain-peer']);

    // Harbor's RegistryUpdate: flat fields. The masked secret sent back keeps the stored one.
    const update = await call('PUT', `/registries/${id}`, admin, {
      description: 'renamed',
      name: 'branch-one',
      access_key: PEER_USER,
      access_secret: '*****',
    });
    expect(update.status).toBe(200);
    const after = (await (await call('GET', `/registries/${id}`, admin)).json()) as RegistryJson;
    expect(after).toMatchObject({ name: 'branch-one', description: 'renamed', status: 'healthy' });
    expect((await call('POST', '/registries/ping', admin, { id })).status).toBe(200);
    // A wrong new secret: saved (the peer may be reconfigured later), and the check says unhealthy.
    expect((await call('PUT', `/registries/${id}`, admin, { access_secret: 'wrong-secret' })).status).toBe(
      200,
    );
    expect(((await (await call('GET', `/registries/${id}`, admin)).json()) as RegistryJson).status).toBe(
      'unhealthy',
    );
    expect((await call('PUT', `/registries/${id}`, admin, { access_secret: SECRET })).status).toBe(200);

    expect((await call('DELETE', `/registries/${id}`, admin)).status).toBe(200);
    expect((await call('GET', `/registries/${id}`, admin)).status).toBe(404);
    expect((await call('DELETE', `/registries/${id}`, admin)).status).toBe(404);
  });

  it('describes what an endpoint supports', async () => {
    const res = await call('POST', '/registries', admin, {
      name: 'self',
      url: wharf.url,
      type: 'harbor',
      credential: { type: 'basic', access_key: 'admin', access_secret: wharf.adminPassword },
    });
    const id = createdId(res);
    const json = (await (await call('GET', `/registries/${id}`, admin)).json()) as RegistryJson;
    expect(json.status).toBe('healthy');
    const info = await call('GET', `/registries/${id}/info`, admin);
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({
      type: 'harbor',
      supported_resource_filters: expect.arrayContaining([
        { type: 'name', style: 'input' },
        { type: 'tag', style: 'input' },
      ]),
      supported_triggers: ['manual', 'scheduled', 'event_based'],
    });
    expect((await call('GET', '/registries/999999/info', admin)).status).toBe(404);
  });

  it('pings: OK, refused credentials, an untrusted certificate, a stopped registry', async () => {
    const ping = (body: unknown) => call('POST', '/registries/ping', admin, body);
    expect((await ping({ url: plain.url, type: 'docker-registry' })).status).toBe(200);
    expect(
      (
        await ping({
          url: basicPeer.url,
          type: 'docker-registry',
          access_key: PEER_USER,
          access_secret: SECRET,
        })
      ).status,
    ).toBe(200);
    const refused = await ping({
      url: basicPeer.url,
      type: 'docker-registry',
      access_key: PEER_USER,
      access_secret: 'nope',
    });
    expect(refused.status).toBe(400);
    expect((await errorOf(refused))?.message).toMatch(/refused the credentials/);

    const untrusted = await ping({ url: tlsPeer.url, type: 'docker-registry' });
    expect(untrusted.status).toBe(400);
    expect((await errorOf(untrusted))?.message).toMatch(/not trusted/);
    expect(
      (await ping({ url: tlsPeer.url, type: 'docker-registry', ca_certificate: tlsPeer.certificate })).status,
    ).toBe(200);
    expect((await ping({ url: tlsPeer.url, type: 'docker-registry', insecure: true })).status).toBe(200);

    const doomed = await startDockerRegistry();
    const created = await call('POST', '/registries', admin, {
      name: 'doomed',
      url: doomed.url,
      type: 'docker-registry',
    });
    const id = createdId(created);
    expect((await ping({ id })).status).toBe(200);
    await doomed.stop();
    const down = await ping({ id });
    expect(down.status).toBe(400);
    const error = await errorOf(down);
    expect(error?.code).toBe('BAD_REQUEST');
    expect(error?.message).toMatch(/the registry is unreachable: .*ECONNREFUSED/);
    expect(((await (await call('GET', `/registries/${id}`, admin)).json()) as RegistryJson).status).toBe(
      'unhealthy',
    );
    const nowhere = await ping({ url: `http://127.0.0.1:${await freePort()}`, type: 'docker-registry' });
    expect(nowhere.status).toBe(400);
    expect((await ping({ id: 999999 })).status).toBe(404);
  });

  it('is for system administrators only', async () => {
    const body = { name: 'nope', url: plain.url, type: 'docker-registry' };
    for (const [auth, status] of [
      [undefined, 401],
      [user, 403],
    ] as const) {
      expect((await call('GET', '/registries', auth)).status).toBe(status);
      expect((await call('POST', '/registries', auth, body)).status).toBe(status);
      expect(
        (await call('POST', '/registries/ping', auth, { url: plain.url, type: 'docker-registry' })).status,
      ).toBe(status);
      expect((await call('GET', '/replication/adapters', auth)).status).toBe(status);
      expect((await call('GET', '/registries/1', auth)).status).toBe(status);
      expect((await call('PUT', '/registries/1', auth, { description: 'x' })).status).toBe(status);
      expect((await call('DELETE', '/registries/1', auth)).status).toBe(status);
    }
  });

  it('refuses bad input with a clear message', async () => {
    const bad = async (body: unknown, status: number, message: RegExp) => {
      const res = await call('POST', '/registries', admin, body);
      expect(res.status).toBe(status);
      expect((await errorOf(res))?.message).toMatch(message);
    };
    await bad({ url: plain.url, type: 'docker-registry' }, 400, /name is required/);
    await bad({ name: 'x', type: 'docker-registry' }, 400, /url is required/);
    await bad({ name: 'x', url: 'ftp://host', type: 'docker-registry' }, 400, /must be http or https/);
    await bad({ name: 'x', url: 'not a url', type: 'docker-registry' }, 400, /invalid registry URL/);
    await bad({ name: 'x', url: plain.url, type: 'quay' }, 400, /unknown registry type "quay"/);
    await bad(
      { name: 'x', url: plain.url, type: 'docker-registry', credential: { type: 'secret' } },
      400,
      /credential type/,
    );
    await bad(
      { name: 'x', url: plain.url, type: 'docker-registry', credential: { access_key: 'a' } },
      400,
      /access_secret/,
    );
    await bad({ name: 'x', url: plain.url, type: 'docker-registry', ca_certificate: 'junk' }, 400, /PEM/);
    await bad({ name: 'x', url: plain.url, type: 'docker-registry', insecure: 'yes' }, 400, /insecure/);
    await bad({ name: 'x'.repeat(65), url: plain.url, type: 'docker-registry' }, 400, /name must be/);
    expect(
      (await call('POST', '/registries', admin, { name: 'dup', url: plain.url, type: 'docker-registry' }))
        .status,
    ).toBe(201);
    await bad({ name: 'dup', url: plain.url, type: 'docker-registry' }, 409, /already exists/);
    expect((await call('GET', '/registries/abc', admin)).status).toBe(400);
    expect((await call('PUT', '/registries/999999', admin, { description: 'x' })).status).toBe(404);
    const list = (await (await call('GET', '/registries?q=name%3Ddup', admin)).json()) as RegistryJson[];
    const id = list[0]?.id as number;
    const rename = await call('PUT', `/registries/${id}`, admin, { name: 'self' });
    expect(rename.status).toBe(409);
    const retype = await call('PUT', `/registries/${id}`, admin, { type: 'harbor' });
    expect(retype.status).toBe(400);
  });

  // Last: it stops the server to read its database directly.
  it('stores the secret encrypted', async () => {
    expect(
      (
        await call('POST', '/registries', admin, {
          name: 'at-rest',
          url: basicPeer.url,
          type: 'docker-registry',
          credential: {
            type: 'basic',
            access_key: 'at-rest-key-marker',
            access_secret: 'At-Rest-Secret-Marker-42',
          },
        })
      ).status,
    ).toBe(201);
    await wharf.stop();
    const db = wharf.databaseUrl
      ? await openPostgresDatabase({ connection: { connectionString: wharf.databaseUrl }, poolSize: 1 })
      : await openPgliteDatabase(join(wharf.dataDir, 'pg'));
    let row: RegistryRow | undefined;
    try {
      row = (await db.query<RegistryRow>("SELECT * FROM registries WHERE name = 'at-rest'"))[0];
    } finally {
      await db.close();
    }
    expect(row?.access_key).toBe('at-rest-key-marker');
    expect(row?.access_secret_sealed).toMatch(/^v1:/);
    expect(JSON.stringify(row)).not.toContain('At-Rest-Secret-Marker-42');
    if (!wharf.databaseUrl) {
      // Nowhere in the data directory either (the key, in clear, is: the positive control).
      let keyFound = false;
      const walk = async (dir: string): Promise<void> => {
        for (const entry of await readdir(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) await walk(path);
          else if (entry.isFile()) {
            const bytes = await readFile(path);
            expect(bytes.includes('At-Rest-Secret-Marker-42'), path).toBe(false);
            keyFound ||= bytes.includes('at-rest-key-marker');
          }
        }
      };
      await walk(wharf.dataDir);
      expect(keyFound).toBe(true);
    }
  });
});
