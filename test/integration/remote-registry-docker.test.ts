import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerRegistry, type DockerRegistryHandle } from '../helpers/docker-registry.js';
import { freePort } from '../helpers/ports.js';
import { RemoteError, RemoteRegistry } from '../../src/remote/index.js';
import { remoteContentSuite } from './remote-registry-suite.js';
import {
  PEER_PASSWORD,
  PEER_USER,
  startHtpasswdRegistry,
  type HtpasswdRegistry,
} from './remote-registry-fixtures.js';

// The remote-registry client against Debian's docker-registry (the CNCF reference registry):
// anonymous, and with htpasswd Basic auth; the peer down is `unreachable`, bad credentials are
// `unauthorized`.

describe('remote registry client against docker-registry', () => {
  let registry: DockerRegistryHandle;
  let client: RemoteRegistry;
  const run = randomBytes(3).toString('hex');
  let n = 0;

  beforeAll(async () => {
    registry = await startDockerRegistry();
    // Page size 1: every listing walks Link pagination.
    client = new RemoteRegistry({
      url: registry.url,
      type: 'docker-registry',
      pageSize: 1,
      timeoutMs: 10_000,
    });
  });
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('pings anonymously', async () => {
    expect(await client.ping()).toEqual({ auth: 'none' });
  });

  remoteContentSuite({
    client: () => client,
    repo: (label) => `rr-${run}/${label}-${++n}`,
    referrers: 'tag-schema',
    resumesBrokenUploads: false,
  });

  it('says unreachable when nothing listens, and within the timeout', async () => {
    const down = new RemoteRegistry({ url: `http://127.0.0.1:${await freePort()}`, type: 'docker-registry' });
    try {
      const err = await down.ping().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).kind).toBe('unreachable');
      expect((err as RemoteError).retryable).toBe(true);
      expect((err as RemoteError).message).toMatch(/ECONNREFUSED/);
    } finally {
      await down.close();
    }
  });
});

describe('remote registry client against docker-registry with Basic auth', () => {
  let peer: HtpasswdRegistry;
  const clients: RemoteRegistry[] = [];
  const make = (credential: { accessKey: string; accessSecret: string } | null) => {
    const c = new RemoteRegistry({
      url: peer.url,
      type: 'docker-registry',
      credential: credential && { type: 'basic', ...credential },
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    peer = await startHtpasswdRegistry();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await peer?.stop();
  });

  it('pings with the right password and pushes and pulls', async () => {
    const client = make({ accessKey: PEER_USER, accessSecret: PEER_PASSWORD });
    expect(await client.ping()).toEqual({ auth: 'basic' });
    const bytes = randomBytes(1000);
    const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(bytes).digest('hex')}`;
    await client.pushBlob('basic/repo', digest, bytes, bytes.length);
    expect(await client.statBlob('basic/repo', digest)).toEqual({ size: 1000 });
  });

  it('is unauthorized with a wrong password or none', async () => {
    for (const client of [make({ accessKey: PEER_USER, accessSecret: 'wrong-password' }), make(null)]) {
      const err = await client.ping().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).kind).toBe('unauthorized');
      expect((err as RemoteError).status).toBe(401);
      expect((err as RemoteError).retryable).toBe(false);
    }
  });
});
