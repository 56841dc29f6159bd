import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';

// Issue #11 point 6: robots, members and projects reach their services as typed domain input.
// The route schemas check the shape of Harbor's JSON and answer a 400 naming Harbor's field (and
// the entry of a list); the services keep the rules (role ids, unsupported features, namespaces).

interface HarborErrors {
  errors: Array<{ code: string; message: string }>;
}

describe('the typed edge of robots, members and projects', () => {
  let wharf: InProcessWharf;
  const PROJECT = 'edge';

  const send = async (method: string, url: string, body?: unknown) => {
    const res = await wharf.call(method, `/api/v2.0${url}`, wharf.adminAuth, body);
    const error = (res.body as HarborErrors | undefined)?.errors?.[0];
    return { status: res.status, code: error?.code, message: error?.message ?? '' };
  };
  const badRequest = async (method: string, url: string, body: unknown, message: RegExp) => {
    const res = await send(method, url, body);
    expect(res, `${method} ${url} ${JSON.stringify(body)}`).toMatchObject({
      status: 400,
      code: 'BAD_REQUEST',
    });
    expect(res.message, JSON.stringify(body)).toMatch(message);
  };

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: [PROJECT] });
    const user = await send('POST', '/users', { username: 'edge-user', password: 'Edge-Passw0rd' });
    expect(user.status).toBe(201);
  });
  afterAll(async () => {
    await wharf?.close();
  });

  const pull = [{ resource: 'repository', action: 'pull' }];
  const robot = (extra: Record<string, unknown>) => ({
    name: 'edge-bot',
    level: 'project',
    duration: -1,
    permissions: [{ kind: 'project', namespace: PROJECT, access: pull }],
    ...extra,
  });

  it('robot bodies: each wrong field is named, down to the entry of a permission', async () => {
    await badRequest('POST', '/robots', robot({ level: 'galaxy' }), /^level must be "system" or "project"$/);
    await badRequest('POST', '/robots', robot({ level: undefined }), /level must be "system" or "project"/);
    await badRequest('POST', '/robots', robot({ duration: 'forever' }), /^duration must be a whole number/);
    await badRequest('POST', '/robots', robot({ duration: 2.5 }), /^duration must be a whole number/);
    await badRequest('POST', '/robots', robot({ permissions: [] }), /permissions must list at least one/);
    await badRequest('POST', '/robots', robot({ permissions: 'all' }), /permissions must list/);
    const entry = (access: unknown, more: Record<string, unknown> = {}) =>
      robot({ permissions: [{ kind: 'project', namespace: PROJECT, access, ...more }] });
    await badRequest(
      'POST',
      '/robots',
      entry([...pull, { resource: 'spaceship', action: 'pull' }]),
      /^permissions\.0\.access\.1\.resource: must be one of project, member/,
    );
    await badRequest(
      'POST',
      '/robots',
      entry([{ resource: 'repository', action: 'fly' }]),
      /^permissions\.0\.access\.0\.action: must be one of create, read/,
    );
    await badRequest(
      'POST',
      '/robots',
      entry([{ resource: 'repository', action: 'pull', effect: 'maybe' }]),
      /^permissions\.0\.access\.0\.effect: must be "allow" or "deny"$/,
    );
    await badRequest('POST', '/robots', entry([]), /^permissions\.0\.access: must list at least one/);
    await badRequest(
      'POST',
      '/robots',
      entry(pull, { namespace: '' }),
      /^permissions\.0\.namespace: must be/,
    );
    await badRequest('POST', '/robots', entry(pull, { kind: 'cluster' }), /^permissions\.0\.kind: must be/);
    // A kind Harbor has but Wharf does not build yet: the service refuses it, naming the entry.
    await badRequest(
      'POST',
      '/robots',
      robot({
        level: 'system',
        permissions: [{ kind: 'system', namespace: '/', access: pull }],
      }),
      /permissions\[0\]: .*kind must be "project"/,
    );
    await badRequest('GET', '/robots?q=Level%3Dgalaxy', undefined, /^Level must be "system" or "project"$/);
  });

  it('robot bodies that pass the edge: effect defaults to allow, and PUT checks the same shapes', async () => {
    const created = await send('POST', '/robots', robot({ duration: 0 }));
    expect(created.status).toBe(201);
    const list = await wharf.call(
      'GET',
      '/api/v2.0/robots?q=name%3Drobot%24edge%2Bedge-bot',
      wharf.adminAuth,
    );
    const [shown] = list.body as Array<{
      id: number;
      duration: number;
      permissions: Array<{ access: Array<{ effect: string }> }>;
    }>;
    expect(shown?.duration).toBe(30);
    expect(shown?.permissions[0]?.access[0]?.effect).toBe('allow');
    const url = `/robots/${shown?.id}`;
    await badRequest('PUT', url, { duration: '10' }, /^duration must be a whole number/);
    await badRequest('PUT', url, { level: 7 }, /^level must be "system" or "project"$/);
    await badRequest(
      'PUT',
      url,
      { permissions: [{ kind: 'project', namespace: PROJECT, access: [{ resource: 'x', action: 'pull' }] }] },
      /^permissions\.0\.access\.0\.resource: must be one of/,
    );
    expect((await send('PUT', url, { duration: 5, description: 'five days' })).status).toBe(200);
  });

  it('member bodies: role_id is typed at the edge, its range and groups are the service’s rules', async () => {
    const url = `/projects/${PROJECT}/members`;
    const user = { username: 'edge-user' };
    await badRequest('POST', url, { member_user: user }, /^role_id is required$/);
    await badRequest('POST', url, { role_id: '2', member_user: user }, /^role_id must be an integer$/);
    await badRequest('POST', url, { role_id: 1.5, member_user: user }, /^role_id must be an integer$/);
    await badRequest('POST', url, { role_id: 9, member_user: user }, /^role_id 9 names no project role/);
    await badRequest('POST', url, { role_id: 2 }, /member_user \(with user_id or username\) or member_group/);
    await badRequest(
      'POST',
      url,
      { role_id: 2, member_user: {} },
      /member_user \(with user_id or username\)/,
    );
    await badRequest(
      'POST',
      url,
      { role_id: 2, member_group: { group_name: 'devs', group_type: 'ldap' } },
      /member_group\.group_type must be an integer/,
    );
    await badRequest('POST', url, { role_id: 2, member_group: { group_name: 'devs' } }, /group source/);
    const added = await wharf.call('POST', `/api/v2.0${url}`, wharf.adminAuth, {
      role_id: 3,
      member_user: user,
    });
    expect(added.status).toBe(201);
    const listed = await wharf.call('GET', `/api/v2.0${url}?entityname=edge-user`, wharf.adminAuth);
    const [only] = listed.body as Array<{ id: number }>;
    const member = `${url}/${only?.id}`;
    await badRequest('PUT', member, { role_id: 'guest' }, /^role_id must be an integer$/);
    await badRequest('PUT', member, { role_id: 0 }, /^role_id 0 names no project role/);
    expect((await send('PUT', member, { role_id: 2 })).status).toBe(200);
  });

  it('project bodies: Harbor’s fields are typed at the edge, what they ask for is the service’s rule', async () => {
    await badRequest(
      'POST',
      '/projects',
      { project_name: 'e1', storage_limit: 'big' },
      /^storage_limit must be an integer$/,
    );
    await badRequest(
      'POST',
      '/projects',
      { project_name: 'e1', registry_id: '1' },
      /^registry_id must be an integer$/,
    );
    await badRequest(
      'POST',
      '/projects',
      { project_name: 'e1', cve_allowlist: 'CVE-1' },
      /^cve_allowlist must be an object/,
    );
    await badRequest(
      'POST',
      '/projects',
      { project_name: 'e1', metadata: { public: 1 } },
      /^metadata\.public: must be a string$/,
    );
    // A boolean is what older clients send: taken as its text.
    const made = await send('POST', '/projects', { project_name: 'e1', metadata: { public: true } });
    expect(made.status).toBe(201);
    const shown = await wharf.call('GET', '/api/v2.0/projects/e1', wharf.adminAuth);
    expect((shown.body as { metadata: Record<string, string> }).metadata.public).toBe('true');
    await badRequest('PUT', '/projects/e1', { storage_limit: 0 }, /^storage_limit must be -1 \(unlimited\)/);
    await badRequest('POST', '/projects/e1/metadatas', { auto_scan: 5 }, /^auto_scan: must be a string$/);
    await badRequest(
      'POST',
      '/projects/e1/metadatas',
      ['auto_scan'],
      /^the request body must be a JSON object$/,
    );
    await badRequest(
      'POST',
      '/projects/e1/metadatas',
      { colour: 'blue' },
      /unknown project metadata "colour"/,
    );
  });
});
