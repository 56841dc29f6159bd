import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, basicAuth, createdId } from '../helpers/api-client.js';
import { startCluster, type Cluster, type ClusterInstance } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';

// Two instances on one PostgreSQL, with Redis and without. What one instance remembers (verified
// credentials, project access facts, tag lookups) must never outlive a change made through the
// other: each check primes instance B's memory first, changes through A, then asks B at once.
// With Redis, B hears of the change and answers from its cache again afterwards; without, B
// rechecks remembered credentials against the database and does not cache lookups.

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe.each([['plain'], ['none']] as const)('two instances stay coherent (redis: %s)', (redis) => {
  let cluster: Cluster;
  let a: ClusterInstance;
  let b: ClusterInstance;

  beforeAll(async () => {
    cluster = await startCluster({ instances: 2, redis, projects: ['coherent'] });
    [a, b] = cluster.instances as [ClusterInstance, ClusterInstance];
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const v2 = (instance: ClusterInstance, authorization: string, path = '/v2/') =>
    fetch(`${instance.url}${path}`, { headers: { authorization } });

  it('a robot disabled through A is refused by B at once', async () => {
    const api = apiCaller(() => a.url);
    const res = await api('POST', '/robots', cluster.authorization, {
      name: 'coherent-bot',
      duration: -1,
      level: 'project',
      permissions: [
        { kind: 'project', namespace: 'coherent', access: [{ resource: 'repository', action: 'pull' }] },
      ],
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const robot = (await res.json()) as { id: number; name: string; secret: string };
    const creds = basicAuth(robot.name, robot.secret);
    // B verifies and remembers the credential.
    expect((await v2(b, creds)).status).toBe(200);
    expect((await v2(b, creds)).status).toBe(200);
    expect((await api('PUT', `/robots/${robot.id}`, cluster.authorization, { disable: true })).status).toBe(
      200,
    );
    expect((await v2(b, creds)).status).toBe(401);
  });

  it("a user's changed password stops working on B at once", async () => {
    const api = apiCaller(() => a.url);
    const created = await api('POST', '/users', cluster.authorization, {
      username: 'coherent-user',
      email: 'coherent@example.com',
      realname: 'Coherent',
      password: 'First-Passw0rd',
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const id = createdId(created);
    const old = basicAuth('coherent-user', 'First-Passw0rd');
    expect((await v2(b, old)).status).toBe(200);
    const changed = await api('PUT', `/users/${id}/password`, cluster.authorization, {
      new_password: 'Second-Passw0rd',
    });
    expect(changed.status, await changed.clone().text()).toBe(200);
    expect((await v2(b, old)).status).toBe(401);
    expect((await v2(b, basicAuth('coherent-user', 'Second-Passw0rd'))).status).toBe(200);
  });

  it('a member removed through A can no longer pull through B', async () => {
    const api = apiCaller(() => a.url);
    const created = await api('POST', '/users', cluster.authorization, {
      username: 'coherent-member',
      email: 'member@example.com',
      realname: 'Member',
      password: 'Member-Passw0rd',
    });
    expect(created.status).toBe(201);
    const image = await a.client.pushImage('coherent/app', 'v1');
    const add = await api('POST', '/projects/coherent/members', cluster.authorization, {
      role_id: 3,
      member_user: { username: 'coherent-member' },
    });
    expect(add.status, await add.clone().text()).toBe(201);
    const memberId = createdId(add);
    const creds = basicAuth('coherent-member', 'Member-Passw0rd');
    const pull = () =>
      fetch(`${b.url}/v2/coherent/app/manifests/v1`, {
        headers: { authorization: creds, accept: OCI_MANIFEST },
      });
    const allowed = await pull();
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('docker-content-digest')).toBe(image.digest);
    expect((await pull()).status).toBe(200);
    expect(
      (await api('DELETE', `/projects/coherent/members/${memberId}`, cluster.authorization)).status,
    ).toBe(200);
    // No longer a member: the private project answers as a missing one (issue #10, point 11).
    expect((await pull()).status).toBe(404);
  });

  it('a tag moved or deleted through A is seen through B at once, from the cache again afterwards', async () => {
    const first = await a.client.pushImage('coherent/moving', 'latest');
    const head = async () =>
      fetch(`${b.url}/v2/coherent/moving/manifests/latest`, {
        method: 'HEAD',
        headers: { authorization: cluster.authorization, accept: OCI_MANIFEST },
      });
    for (let round = 0; round < 5; round++) {
      const pushed = round === 0 ? first : await a.client.pushImage('coherent/moving', 'latest');
      for (let read = 0; read < 3; read++) {
        expect((await head()).headers.get('docker-content-digest'), `round ${round} read ${read}`).toBe(
          pushed.digest,
        );
      }
    }
    const outcome = redis === 'plain' ? 'hit' : 'bypass';
    // B's cache counts hits only once it trusts it (its own heartbeat came back through Redis):
    // on a loaded machine that can take a moment, so read again until it does.
    const count = await eventually(
      `B's lookups: ${outcome}`,
      async () => {
        await head();
        return cluster.metric(b, 'wharf_lookup_cache_total', { outcome });
      },
      (n) => n > 0,
      30_000,
    );
    expect(count, `B's lookups: ${outcome}`).toBeGreaterThan(0);
    const deleted = await fetch(`${a.url}/v2/coherent/moving/manifests/latest`, {
      method: 'DELETE',
      headers: { authorization: cluster.authorization },
    });
    expect(deleted.status).toBe(202);
    expect((await head()).status).toBe(404);
  });
});
