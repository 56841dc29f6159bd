import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../metadata/database.js';
import { openMigratedMemoryDatabase } from '../../test/helpers/memory-database.js';
import type { Principal } from './principal.js';
import { RegistryEndpointService } from './registry-endpoint-service.js';
import { ReplicationPolicyService, type NewPolicy } from './replication-policy-service.js';
import { SecretBox } from './secret-box.js';
import { freePort } from '../../test/helpers/ports.js';

// The policy service's rules on domain input (the API's snake_case is mapped at the edge), on a
// real (in-memory) PGlite: which side is remote, the endpoint exists, filters and crons that
// parse, which trigger suits which direction, a running policy is not deleted.

const admin: Principal = { kind: 'user', id: 1, username: 'admin', sysadmin: true };

describe('ReplicationPolicyService', () => {
  let db: Database;
  let policies: ReplicationPolicyService;
  let peer: number;
  const running = new Set<number>();
  const push = (name: string, more: Partial<NewPolicy> = {}): NewPolicy => ({
    name,
    sides: { srcRegistryId: null, destRegistryId: peer },
    ...more,
  });

  beforeAll(async () => {
    db = await openMigratedMemoryDatabase();
    const endpoints = new RegistryEndpointService(db, new SecretBox(randomBytes(32)), {
      checkTimeoutMs: 2_000,
    });
    const url = `http://127.0.0.1:${await freePort()}`;
    peer = (await endpoints.create(admin, { name: 'peer', url, type: 'docker-registry' })).id;
    policies = new ReplicationPolicyService(db, endpoints, undefined, {
      runningChecks: [async (id) => running.has(id)],
    });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it("creates a push policy with Harbor's defaults; a scheduled cron is kept trimmed", async () => {
    const created = await policies.create(
      admin,
      push('defaults', { trigger: { type: 'scheduled', cron: ' 0 0 2 * * * ' } }),
    );
    expect(created).toMatchObject({
      srcRegistryId: null,
      destRegistryId: peer,
      destNamespace: '',
      destNamespaceReplaceCount: -1,
      filters: [],
      trigger: { type: 'scheduled', cron: '0 0 2 * * *' },
      replicateDeletion: false,
      override: true,
      enabled: true,
      speed: 0,
      copyByChunk: false,
    });
  });

  it('changes what an update carries; the sides change together', async () => {
    const created = await policies.create(admin, push('changing', { speed: 512, destNamespace: 'mirror' }));
    const manual = await policies.update(admin, created.id, {
      trigger: { type: 'manual', cron: '0 * * * * *' },
    });
    // A cron means nothing to a manual trigger: it is not kept.
    expect(manual).toMatchObject({
      trigger: { type: 'manual', cron: '' },
      speed: 512,
      destNamespace: 'mirror',
    });
    const pull = await policies.update(admin, created.id, {
      sides: { srcRegistryId: peer, destRegistryId: null },
    });
    expect(pull).toMatchObject({ srcRegistryId: peer, destRegistryId: null, speed: 512 });
  });

  it.each<[string, Partial<NewPolicy>, RegExp]>([
    [
      'no remote side',
      { sides: { srcRegistryId: null, destRegistryId: null } },
      /exactly one of src_registry/,
    ],
    ['two remote sides', { sides: { srcRegistryId: 1, destRegistryId: 1 } }, /exactly one of src_registry/],
    [
      'an unknown endpoint',
      { sides: { srcRegistryId: null, destRegistryId: 9999 } },
      /registry 9999 not found/,
    ],
    ['a blank name', { name: '  ' }, /name must be 1 to 256 printable characters/],
    ['a bad namespace', { destNamespace: 'Bad Namespace' }, /invalid dest_namespace/],
    [
      'a replace count out of range',
      { destNamespaceReplaceCount: 200 },
      /dest_namespace_replace_count must be -1/,
    ],
    ['a bad pattern', { filters: [{ type: 'name', value: 'lib/[' }] }, /name filter: invalid pattern/],
    [
      'too many filters',
      { filters: Array.from({ length: 21 }, () => ({ type: 'tag' as const, value: 'v*' })) },
      /at most 20 filters/,
    ],
    ['a schedule without cron', { trigger: { type: 'scheduled', cron: ' ' } }, /needs trigger_settings.cron/],
    ['a cron that does not parse', { trigger: { type: 'scheduled', cron: '0 0 25 * * *' } }, /invalid cron/],
    ['a negative speed', { speed: -5 }, /speed must be a whole number of KB\/s/],
  ])('refuses %s', async (_, change, message) => {
    await expect(policies.create(admin, push('refused', change))).rejects.toMatchObject({
      kind: 'invalid',
      message: expect.stringMatching(message),
    });
  });

  it('refuses an event_based trigger on a pull policy: a remote source sends no events', async () => {
    const pull: NewPolicy = {
      name: 'pull-events',
      sides: { srcRegistryId: peer, destRegistryId: null },
      trigger: { type: 'event_based', cron: '' },
    };
    await expect(policies.create(admin, pull)).rejects.toMatchObject({
      kind: 'invalid',
      message: expect.stringMatching(/event_based trigger needs a push policy/),
    });
  });

  it('refuses a duplicate name, and to delete a policy with a running execution', async () => {
    const created = await policies.create(admin, push('busy'));
    await expect(policies.create(admin, push('busy'))).rejects.toMatchObject({ kind: 'conflict' });
    running.add(created.id);
    await expect(policies.delete(admin, created.id)).rejects.toMatchObject({ kind: 'precondition' });
    running.delete(created.id);
    await policies.delete(admin, created.id);
    expect(await policies.byId(created.id)).toBeNull();
  });
});
