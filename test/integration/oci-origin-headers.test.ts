import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth } from '../helpers/api-client.js';
import { OciClient, OCI_CONFIG, OCI_MANIFEST, imageManifest } from '../helpers/oci-client.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';

// Wharf's origin headers on a manifest write (two-way replication between Wharf registries):
// the tag's push time at its origin is recorded with the tag, in one transaction, and the
// answer says so; a tag holding a later version, or deleted later, is left alone (superseded).
// Only replication may state a time (a system administrator: a peer's replication signs in as
// one); from anyone else the headers are ignored; a malformed time is MANIFEST_INVALID.

const PROJECT = 'origins';
const PASSWORD = 'Origin-Test-1';
const ORIGIN_TIME = '2026-01-02T03:04:05.678Z';

describe('origin push time headers', () => {
  let wharf: InProcessWharf;
  let admin: OciClient;
  let developer: string;

  const api = (method: string, path: string, auth: string, body?: unknown) =>
    wharf.fetch(`${wharf.url}/api/v2.0${path}`, {
      method,
      headers: { authorization: auth, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: [PROJECT] });
    admin = new OciClient(wharf.url, adminAuth(wharf), wharf.fetch);
    const user = await api('POST', '/users', adminAuth(wharf), { username: 'o-dev', password: PASSWORD });
    expect(user.status).toBe(201);
    const member = await api('POST', `/projects/${PROJECT}/members`, adminAuth(wharf), {
      role_id: 2,
      member_user: { username: 'o-dev' },
    });
    expect(member.status).toBe(201);
    developer = basicAuth('o-dev', PASSWORD);
  });
  afterAll(async () => {
    await wharf?.close();
  });

  /** A small image's manifest (its config pushed), ready to PUT. */
  async function manifestIn(repository: string): Promise<Buffer> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: Math.random() }));
    const digest = await admin.pushBlob(repository, config);
    return imageManifest({ config: { mediaType: OCI_CONFIG, digest, size: config.length }, layers: [] });
  }

  const put = (repository: string, reference: string, body: Buffer, auth: string, headers = {}) =>
    wharf.fetch(`${wharf.url}/v2/${repository}/manifests/${reference}`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': OCI_MANIFEST, ...headers },
      body,
    });

  async function pushTimeOf(repository: string, tag: string): Promise<string | undefined> {
    const name = encodeURIComponent(repository.slice(PROJECT.length + 1));
    const res = await api(
      'GET',
      `/projects/${PROJECT}/repositories/${name}/artifacts?with_tag=true`,
      adminAuth(wharf),
    );
    const artifacts = (await res.json()) as Array<{
      tags: Array<{ name: string; push_time: string }> | null;
    }>;
    return artifacts.flatMap((a) => a.tags ?? []).find((t) => t.name === tag)?.push_time;
  }

  it('records the stated origin push time with the tag, for a system administrator', async () => {
    const repository = `${PROJECT}/copied`;
    const res = await put(repository, 'v1', await manifestIn(repository), adminAuth(wharf), {
      'wharf-origin-push-time': ORIGIN_TIME,
      'wharf-origin': 'https://hq.example',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('wharf-origin-recorded')).toBe('true');
    expect(await pushTimeOf(repository, 'v1')).toBe(ORIGIN_TIME);
  });

  it('without the headers the push time is the time of the write', async () => {
    const repository = `${PROJECT}/plain`;
    const before = Date.now();
    const res = await put(repository, 'v1', await manifestIn(repository), adminAuth(wharf));
    expect(res.status).toBe(201);
    expect(res.headers.get('wharf-origin-recorded')).toBeNull();
    expect(Date.parse((await pushTimeOf(repository, 'v1')) ?? '')).toBeGreaterThanOrEqual(before - 1000);
  });

  it('ignores the headers from anyone but replication: the push is theirs, the time is not', async () => {
    const repository = `${PROJECT}/ignored`;
    const before = Date.now();
    const res = await put(repository, 'v1', await manifestIn(repository), developer, {
      'wharf-origin-push-time': ORIGIN_TIME,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('wharf-origin-recorded')).toBeNull();
    expect(Date.parse((await pushTimeOf(repository, 'v1')) ?? '')).toBeGreaterThanOrEqual(before - 1000);
  });

  it('leaves a tag alone that holds a later push, or was deleted later, than the stated origin', async () => {
    const repository = `${PROJECT}/later`;
    const current = await manifestIn(repository);
    expect((await put(repository, 'v1', current, developer)).status).toBe(201);
    const pushedAt = await pushTimeOf(repository, 'v1');
    const older = await put(repository, 'v1', await manifestIn(repository), adminAuth(wharf), {
      'wharf-origin-push-time': ORIGIN_TIME,
    });
    expect(older.status).toBe(201);
    expect(older.headers.get('wharf-origin-recorded')).toBe('superseded');
    const head = await wharf.fetch(`${wharf.url}/v2/${repository}/manifests/v1`, {
      method: 'HEAD',
      headers: { authorization: adminAuth(wharf), accept: OCI_MANIFEST },
    });
    const { createHash } = await import('node:crypto');
    expect(head.headers.get('docker-content-digest')).toBe(
      `sha256:${createHash('sha256').update(current).digest('hex')}`,
    );
    expect(await pushTimeOf(repository, 'v1')).toBe(pushedAt);

    // Deleted now: a copy of a version pushed before the deletion does not bring it back.
    expect(
      (
        await wharf.fetch(`${wharf.url}/v2/${repository}/manifests/v1`, {
          method: 'DELETE',
          headers: { authorization: adminAuth(wharf) },
        })
      ).status,
    ).toBe(202);
    const stale = await put(repository, 'v1', await manifestIn(repository), adminAuth(wharf), {
      'wharf-origin-push-time': ORIGIN_TIME,
    });
    expect(stale.headers.get('wharf-origin-recorded')).toBe('superseded');
    expect(await pushTimeOf(repository, 'v1')).toBeUndefined();
    // A later origin wins over the deletion.
    const later = await put(repository, 'v1', await manifestIn(repository), adminAuth(wharf), {
      'wharf-origin-push-time': new Date().toISOString(),
    });
    expect(later.headers.get('wharf-origin-recorded')).toBe('true');
  });

  it('a replicated deletion goes only when the tag was not pushed here later, keeping its time', async () => {
    const repository = `${PROJECT}/deletions`;
    const del = (tag: string, at: string) =>
      wharf.fetch(`${wharf.url}/v2/${repository}/manifests/${tag}`, {
        method: 'DELETE',
        headers: { authorization: adminAuth(wharf), 'wharf-origin-deleted-at': at },
      });
    expect((await put(repository, 'v1', await manifestIn(repository), adminAuth(wharf))).status).toBe(201);
    const stale = await del('v1', ORIGIN_TIME);
    expect(stale.status).toBe(202);
    expect(stale.headers.get('wharf-origin-recorded')).toBe('superseded');
    expect(await pushTimeOf(repository, 'v1')).toBeDefined();

    const at = new Date().toISOString();
    const fresh = await del('v1', at);
    expect(fresh.status).toBe(202);
    expect(fresh.headers.get('wharf-origin-recorded')).toBe('true');
    expect(await pushTimeOf(repository, 'v1')).toBeUndefined();
    const tombstones = await api('GET', `/replication/tombstones?repository=${repository}`, adminAuth(wharf));
    const [tombstone] = (await tombstones.json()) as Array<{ tag: string; deleted_at: string }>;
    expect(tombstone).toMatchObject({ tag: 'v1', deleted_at: at });
    // One tag's only, as a replication task asks; a malformed tag is a 400.
    const only = await api(
      'GET',
      `/replication/tombstones?repository=${repository}&tag=v1`,
      adminAuth(wharf),
    );
    expect(((await only.json()) as unknown[]).length).toBe(1);
    const none = await api(
      'GET',
      `/replication/tombstones?repository=${repository}&tag=v2`,
      adminAuth(wharf),
    );
    expect(await none.json()).toEqual([]);
    const badTag = await api(
      'GET',
      `/replication/tombstones?repository=${repository}&tag=-x`,
      adminAuth(wharf),
    );
    expect(badTag.status).toBe(400);
    const again = await del('v1', at);
    expect(again.status).toBe(404);
    const malformed = await del('v1', 'soon');
    expect(malformed.status).toBe(400);
  });

  it('a malformed time is MANIFEST_INVALID, naming the header', async () => {
    const repository = `${PROJECT}/malformed`;
    const body = await manifestIn(repository);
    const future = new Date(Date.now() + 3 * 86_400_000).toISOString();
    for (const value of [
      'yesterday',
      '2026-13-45T99:99:99Z',
      '1700000000',
      '',
      '0000-01-01T00:00:00Z',
      future,
    ]) {
      const res = await put(repository, 'v1', body, adminAuth(wharf), { 'wharf-origin-push-time': value });
      expect(res.status, value).toBe(400);
      const error = ((await res.json()) as { errors: Array<{ code: string; message: string }> }).errors[0];
      expect(error?.code).toBe('MANIFEST_INVALID');
      expect(error?.message).toMatch(/wharf-origin-push-time/);
    }
    const long = await put(repository, 'v1', body, adminAuth(wharf), {
      'wharf-origin-push-time': ORIGIN_TIME,
      'wharf-origin': `https://${'x'.repeat(3000)}`,
    });
    expect(long.status).toBe(400);
  });

  it('a write by digest has no tag to record a time for', async () => {
    const repository = `${PROJECT}/by-digest`;
    const body = await manifestIn(repository);
    const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(body).digest('hex')}`;
    const res = await put(repository, digest, body, adminAuth(wharf), {
      'wharf-origin-push-time': ORIGIN_TIME,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('wharf-origin-recorded')).toBeNull();
  });
});
