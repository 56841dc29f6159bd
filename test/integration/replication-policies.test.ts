import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, basicAuth, createdId } from '../helpers/api-client.js';
import { startDockerRegistry, type DockerRegistryHandle } from '../helpers/docker-registry.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import { eventually } from '../helpers/poll.js';

// /api/v2.0/replication/policies in Harbor's shapes against a real server, with a registry
// endpoint (Debian's docker-registry) created through /api/v2.0/registries: the CRUD round trip,
// every validation error, 409 and 404, permissions, the endpoint that cannot be deleted while a
// policy uses it, and the audit entries of policy writes.

interface RegistryJson {
  id: number;
  name: string;
  type: string;
  url: string;
}

interface PolicyJson {
  id: number;
  name: string;
  description: string;
  src_registry: RegistryJson | null;
  dest_registry: RegistryJson | null;
  dest_namespace: string;
  dest_namespace_replace_count: number;
  trigger: { type: string; trigger_settings: { cron: string } };
  filters: Array<{ type: string; value: unknown; decoration?: string }>;
  replicate_deletion: boolean;
  deletion: boolean;
  override: boolean;
  enabled: boolean;
  speed: number;
  copy_by_chunk: boolean;
  creation_time: string;
  update_time: string;
}

describe('/api/v2.0/replication/policies', () => {
  let wharf: InProcessWharf;
  let peer: DockerRegistryHandle;
  let admin: string;
  let registryId: number;
  const user = basicAuth('policy-user', 'Policy-User-Passw0rd');
  const call = apiCaller(() => wharf.url);
  const errorOf = async (res: Response) =>
    ((await res.json()) as { errors: Array<{ code: string; message: string }> }).errors[0];
  const push = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    dest_registry: { id: registryId },
    ...extra,
  });

  beforeAll(async () => {
    [wharf, peer] = await Promise.all([startInProcessTestWharf(), startDockerRegistry()]);
    admin = adminAuth(wharf);
    expect(
      (await call('POST', '/users', admin, { username: 'policy-user', password: 'Policy-User-Passw0rd' }))
        .status,
    ).toBe(201);
    const res = await call('POST', '/registries', admin, {
      name: 'peer',
      url: peer.url,
      type: 'docker-registry',
      insecure: true,
    });
    expect(res.status).toBe(201);
    registryId = createdId(res);
  });
  afterAll(async () => {
    await Promise.all([wharf?.close(), peer?.stop()]);
  });

  it('creates, reads, lists, updates and deletes a push policy in Harbor shapes', async () => {
    const created = await call('POST', '/replication/policies', admin, {
      name: 'to-peer',
      description: 'library to the peer',
      src_registry: null,
      dest_registry: { id: registryId },
      dest_namespace: 'mirror',
      dest_namespace_replace_count: 1,
      filters: [
        { type: 'name', value: 'library/**' },
        { type: 'tag', value: 'v*', decoration: 'matches' },
        { type: 'label', value: ['prod'], decoration: 'excludes' },
        { type: 'resource', value: 'image' },
      ],
      trigger: { type: 'scheduled', trigger_settings: { cron: '0 0 2 * * *' } },
      deletion: true,
      override: false,
      enabled: true,
      speed: 1024,
      copy_by_chunk: true,
    });
    expect(created.status).toBe(201);
    const id = createdId(created);
    expect(created.headers.get('location')).toBe(`/api/v2.0/replication/policies/${id}`);

    const got = await call('GET', `/replication/policies/${id}`, admin);
    expect(got.status).toBe(200);
    const p = (await got.json()) as PolicyJson;
    expect(p).toMatchObject({
      id,
      name: 'to-peer',
      description: 'library to the peer',
      dest_namespace: 'mirror',
      dest_namespace_replace_count: 1,
      trigger: { type: 'scheduled', trigger_settings: { cron: '0 0 2 * * *' } },
      filters: [
        { type: 'name', value: 'library/**' },
        { type: 'tag', value: 'v*', decoration: 'matches' },
        { type: 'label', value: ['prod'], decoration: 'excludes' },
        { type: 'resource', value: 'image' },
      ],
      replicate_deletion: true,
      deletion: true,
      override: false,
      enabled: true,
      speed: 1024,
      copy_by_chunk: true,
    });
    // The local side is Harbor's registry 0; the remote side is the endpoint in full.
    expect(p.src_registry).toMatchObject({ id: 0, name: 'Local', type: 'harbor' });
    expect(p.dest_registry).toMatchObject({
      id: registryId,
      name: 'peer',
      type: 'docker-registry',
      url: peer.url,
    });
    expect(Number.isNaN(Date.parse(p.creation_time))).toBe(false);

    const list = await call('GET', '/replication/policies', admin);
    expect(list.status).toBe(200);
    expect(list.headers.get('x-total-count')).toBe('1');
    expect(((await list.json()) as PolicyJson[]).map((x) => x.name)).toEqual(['to-peer']);

    // PUT changes what it carries and keeps the rest.
    const updated = await call('PUT', `/replication/policies/${id}`, admin, {
      name: 'to-peer-2',
      enabled: false,
      trigger: { type: 'manual' },
      filters: [],
    });
    expect(updated.status).toBe(200);
    const after = (await (await call('GET', `/replication/policies/${id}`, admin)).json()) as PolicyJson;
    expect(after).toMatchObject({
      name: 'to-peer-2',
      enabled: false,
      trigger: { type: 'manual', trigger_settings: { cron: '' } },
      filters: [],
      dest_namespace: 'mirror',
      speed: 1024,
      override: false,
    });
    expect(after.dest_registry?.id).toBe(registryId);

    expect((await call('DELETE', `/replication/policies/${id}`, admin)).status).toBe(200);
    expect((await call('GET', `/replication/policies/${id}`, admin)).status).toBe(404);
  });

  it('creates a pull policy with defaults; speed -1 is unlimited (0)', async () => {
    const res = await call('POST', '/replication/policies', admin, {
      name: 'from-peer',
      src_registry: { id: registryId },
      dest_registry: { id: 0 },
      speed: -1,
    });
    expect(res.status).toBe(201);
    const p = (await (
      await call('GET', `/replication/policies/${createdId(res)}`, admin)
    ).json()) as PolicyJson;
    expect(p).toMatchObject({
      src_registry: { id: registryId, name: 'peer' },
      dest_registry: { id: 0, name: 'Local' },
      dest_namespace: '',
      dest_namespace_replace_count: -1,
      trigger: { type: 'manual', trigger_settings: { cron: '' } },
      filters: [],
      replicate_deletion: false,
      override: true,
      enabled: true,
      speed: 0,
      copy_by_chunk: false,
    });
    expect((await call('DELETE', `/replication/policies/${p.id}`, admin)).status).toBe(200);
  });

  it('filters the list with q= and pages it', async () => {
    const ids: number[] = [];
    for (const name of ['alpha-one', 'alpha-two', 'beta']) {
      const res = await call('POST', '/replication/policies', admin, push(name));
      expect(res.status).toBe(201);
      ids.push(createdId(res));
    }
    const names = async (query: string) => {
      const res = await call('GET', `/replication/policies?${query}`, admin);
      expect(res.status).toBe(200);
      return {
        total: res.headers.get('x-total-count'),
        link: res.headers.get('link'),
        names: ((await res.json()) as PolicyJson[]).map((p) => p.name),
      };
    };
    expect((await names(`q=${encodeURIComponent('name=beta')}`)).names).toEqual(['beta']);
    expect((await names(`q=${encodeURIComponent('name=~alpha')}`)).names).toEqual(['alpha-one', 'alpha-two']);
    expect((await names('name=ALPHA')).names).toEqual(['alpha-one', 'alpha-two']);
    const page = await names('page=2&page_size=2');
    expect(page).toMatchObject({ total: '3', names: ['beta'] });
    expect(page.link).toContain('rel="prev"');
    for (const id of ids)
      expect((await call('DELETE', `/replication/policies/${id}`, admin)).status).toBe(200);
  });

  it('answers 400 with a clear message for each invalid policy', async () => {
    // raw: sent as is; otherwise merged into a valid push policy named "x".
    const CASES: Array<[body: Record<string, unknown>, message: RegExp, raw?: true]> = [
      [{ dest_registry: { id: registryId } }, /name is required/, true],
      [{ name: 'x' }, /exactly one of src_registry .* and dest_registry/, true],
      [{ name: 'x', src_registry: null, dest_registry: { id: 0 } }, /exactly one of src_registry/, true],
      [{ name: 'x', src_registry: { id: 0 }, dest_registry: null }, /exactly one of src_registry/, true],
      [
        { name: 'x', src_registry: { id: registryId }, dest_registry: { id: registryId } },
        /exactly one of/,
        true,
      ],
      [{ name: 'x', dest_registry: { id: 9999 } }, /registry 9999 not found/, true],
      [{ name: 'x', dest_registry: { id: 'one' } }, /dest_registry.id must be a registry id/, true],
      [{ name: 'x', dest_registry: 3 }, /dest_registry must be a registry object/, true],
      [
        { trigger: { type: 'scheduled', trigger_settings: { cron: 'every day' } } },
        /invalid cron "every day"/,
      ],
      [{ trigger: { type: 'scheduled', trigger_settings: { cron: '0 0 25 * * *' } } }, /invalid cron/],
      [{ trigger: { type: 'scheduled' } }, /a scheduled trigger needs trigger_settings.cron/],
      [{ trigger: { type: 'sometimes' } }, /invalid trigger type "sometimes"/],
      [{ trigger: 'manual' }, /trigger must be an object/],
      [{ filters: [{ type: 'kind', value: 'x' }] }, /invalid filter type "kind"/],
      [
        { filters: [{ type: 'tag', value: 'v*', decoration: 'contains' }] },
        /invalid filter decoration "contains"/,
      ],
      [
        { filters: [{ type: 'name', value: 'library/[' }] },
        /name filter: invalid pattern .*unclosed character class/,
      ],
      [{ filters: [{ type: 'tag', value: '{a,b' }] }, /tag filter: invalid pattern .*unclosed alternatives/],
      [{ filters: [{ type: 'label', value: 'prod' }] }, /list of label names/],
      [{ filters: [{ type: 'resource', value: 'helm' }] }, /invalid resource filter "helm"/],
      [{ filters: { type: 'name' } }, /filters must be a list/],
      [{ speed: -5 }, /speed must be a whole number of KB\/s/],
      [{ speed: 1.5 }, /speed must be an integer/],
      [{ speed: '100' }, /speed must be an integer/],
      [{ dest_namespace: 'Bad Namespace' }, /invalid dest_namespace/],
      [{ dest_namespace_replace_count: -2 }, /dest_namespace_replace_count must be -1/],
      [{ dest_namespace_replace_count: 200 }, /dest_namespace_replace_count must be -1/],
      [{ enabled: 'yes' }, /enabled must be true or false/],
      [
        { name: 'x', src_registry: { id: registryId }, trigger: { type: 'event_based' } },
        /event_based trigger needs a push policy/,
        true,
      ],
    ];
    for (const [body, message, raw] of CASES) {
      const res = await call('POST', '/replication/policies', admin, raw ? body : push('x', body));
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = await errorOf(res);
      expect(error?.code).toBe('BAD_REQUEST');
      expect(error?.message, JSON.stringify(body)).toMatch(message);
    }
    // the body itself
    const notJson = await fetch(`${wharf.url}/api/v2.0/replication/policies`, {
      method: 'POST',
      headers: { authorization: admin, 'content-type': 'application/json' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
    // nothing was created
    expect((await call('GET', '/replication/policies', admin)).headers.get('x-total-count')).toBe('0');
  });

  it('refuses a duplicate name (409) and unknown ids (404)', async () => {
    const first = await call('POST', '/replication/policies', admin, push('dup'));
    expect(first.status).toBe(201);
    const again = await call('POST', '/replication/policies', admin, push('dup'));
    expect(again.status).toBe(409);
    expect((await errorOf(again))?.message).toMatch(/"dup" already exists/);
    const other = await call('POST', '/replication/policies', admin, push('other'));
    const rename = await call('PUT', `/replication/policies/${createdId(other)}`, admin, { name: 'dup' });
    expect(rename.status).toBe(409);

    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { name: 'y' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await call(method, '/replication/policies/424242', admin, body);
      expect(res.status, method).toBe(404);
      expect((await errorOf(res))?.code).toBe('NOT_FOUND');
    }
    expect((await call('GET', '/replication/policies/abc', admin)).status).toBe(400);
    // an invalid update changes nothing
    const bad = await call('PUT', `/replication/policies/${createdId(first)}`, admin, { speed: -9 });
    expect(bad.status).toBe(400);
    for (const res of [first, other]) {
      expect((await call('DELETE', `/replication/policies/${createdId(res)}`, admin)).status).toBe(200);
    }
  });

  it('is for system administrators: 401 anonymous, 403 for other users', async () => {
    const created = await call('POST', '/replication/policies', admin, push('guarded'));
    const id = createdId(created);
    for (const [method, path, body] of [
      ['GET', '/replication/policies', undefined],
      ['POST', '/replication/policies', push('nope')],
      ['GET', `/replication/policies/${id}`, undefined],
      ['PUT', `/replication/policies/${id}`, { enabled: false }],
      ['DELETE', `/replication/policies/${id}`, undefined],
    ] as const) {
      expect((await call(method, path, undefined, body)).status, `${method} ${path} anonymous`).toBe(401);
      const denied = await call(method, path, user, body);
      expect(denied.status, `${method} ${path} user`).toBe(403);
      expect((await errorOf(denied))?.code).toBe('FORBIDDEN');
    }
    expect((await call('GET', `/replication/policies/${id}`, admin)).status).toBe(200);
    expect((await call('DELETE', `/replication/policies/${id}`, admin)).status).toBe(200);
  });

  it('refuses to delete a registry a policy uses (412), and allows it once the policy is gone', async () => {
    const other = await call('POST', '/registries', admin, {
      name: 'peer-2',
      url: peer.url,
      type: 'docker-registry',
      insecure: true,
    });
    const otherId = createdId(other);
    const policy = await call('POST', '/replication/policies', admin, {
      name: 'pull-from-peer-2',
      src_registry: { id: otherId },
      trigger: { type: 'scheduled', trigger_settings: { cron: '0 */5 * * * *' } },
    });
    expect(policy.status).toBe(201);
    const refused = await call('DELETE', `/registries/${otherId}`, admin);
    expect(refused.status).toBe(412);
    expect((await errorOf(refused))?.message).toMatch(/pull-from-peer-2/);
    expect((await call('DELETE', `/replication/policies/${createdId(policy)}`, admin)).status).toBe(200);
    expect((await call('DELETE', `/registries/${otherId}`, admin)).status).toBe(200);
  });

  it('records policy writes in the audit log', async () => {
    const audit = async () => {
      const res = await call(
        'GET',
        `/audit-logs?page_size=100&q=${encodeURIComponent('resource_type=replication_policy')}`,
        admin,
      );
      expect(res.status).toBe(200);
      return (await res.json()) as Array<{ resource: string; operation: string; username: string }>;
    };

    const created = await call('POST', '/replication/policies', admin, push('audited'));
    const id = createdId(created);
    await call('PUT', `/replication/policies/${id}`, admin, { description: 'changed' });
    await call('DELETE', `/replication/policies/${id}`, admin);
    // A refused write is not recorded.
    expect((await call('POST', '/replication/policies', admin, push('audited', { speed: -7 }))).status).toBe(
      400,
    );

    // Entries name the policy and are written when its events are dispatched (issue #11).
    const after = await eventually('the policy entries', audit, (entries) =>
      entries.some((e) => e.operation === 'delete' && e.resource === 'audited'),
    );
    const ofPolicy = after.filter((e) => e.resource === 'audited');
    expect(ofPolicy.map((e) => e.operation).sort()).toEqual(['create', 'delete', 'update']);
    expect(new Set(after.map((e) => e.username))).toEqual(new Set([wharf.adminUser]));
  });
});
