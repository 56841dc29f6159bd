import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { eventually } from '../helpers/poll.js';
import { startSyslogReceiver, type SyslogReceiver } from '../helpers/syslog-receiver.js';

// Issue #11 point 4: the audit log is an outbox consumer. A compliance review's scenario leaves
// exactly the entries it should, each naming its object and what changed; robots are logged as
// robots; a token fetch is not a login, a session sign-in is (and a refused one is a failure);
// every entry also reaches a syslog receiver as an RFC 5424 line.

interface AuditExt {
  id: number;
  username: string;
  resource: string;
  resource_type: string;
  operation: string;
  operation_description: string;
  operation_result: boolean;
  op_time: string;
  project_id: number;
}

const PASSWORD = 'Audit-Passw0rd';

async function auditLog(wharf: InProcessWharf, path: string, auth = wharf.adminAuth): Promise<AuditExt[]> {
  const res = await wharf.call('GET', path, auth);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as AuditExt[];
}

/** One entry as a reviewer reads it. */
const line = (e: AuditExt) =>
  `${e.operation} ${e.resource_type} ${e.resource} by ${e.username}${e.operation_result ? '' : ' FAILED'}`;

async function signIn(wharf: InProcessWharf, username: string, password: string): Promise<number> {
  const res = await wharf.app.inject({
    method: 'POST',
    url: '/c/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ principal: username, password }).toString(),
  });
  return res.statusCode;
}

describe('audit log: a compliance scenario', () => {
  let wharf: InProcessWharf;
  let syslog: SyslogReceiver;
  let digest: string;
  let robotId: number;

  beforeAll(async () => {
    syslog = await startSyslogReceiver();
    wharf = await startInProcessWharf({
      audit: { log_pulls: true, forward_endpoint: `127.0.0.1:${syslog.port}` },
    });
  });
  afterAll(async () => {
    await wharf?.close();
    await syslog?.close();
  });

  it('records exactly the changes made, naming objects and what changed', async () => {
    const admin = wharf.adminAuth;
    expect(await signIn(wharf, 'admin', wharf.adminPassword)).toBe(200);
    expect(await signIn(wharf, 'admin', 'Wrong-Passw0rd')).toBe(401);
    // docker login and every push or pull fetch tokens: none of them is a login.
    for (let i = 0; i < 3; i++) {
      const token = await wharf.call(
        'GET',
        '/service/token?service=wharf-registry&scope=registry:catalog:*',
        admin,
      );
      expect(token.status).toBe(200);
    }
    expect(
      (await wharf.call('POST', '/api/v2.0/projects', admin, { project_name: 'compliance' })).status,
    ).toBe(201);
    const user = await wharf.call('POST', '/api/v2.0/users', admin, {
      username: 'auditor',
      password: PASSWORD,
    });
    expect(user.status).toBe(201);
    const member = await wharf.app.inject({
      method: 'POST',
      url: '/api/v2.0/projects/compliance/members',
      headers: { authorization: admin, 'content-type': 'application/json' },
      payload: JSON.stringify({ role_id: 2, member_user: { username: 'auditor' } }),
    });
    expect(member.statusCode, member.body).toBe(201);
    const memberPath = String(member.headers.location).replace(
      /^\/api\/v2\.0\/projects\/\d+/,
      '/api/v2.0/projects/compliance',
    );
    expect((await wharf.call('PUT', memberPath, admin, { role_id: 4 })).status).toBe(200);

    const robot = await wharf.call('POST', '/api/v2.0/robots', admin, {
      name: 'ci',
      level: 'project',
      duration: -1,
      permissions: [
        {
          kind: 'project',
          namespace: 'compliance',
          access: [
            { resource: 'repository', action: 'push' },
            { resource: 'repository', action: 'pull' },
          ],
        },
      ],
    });
    expect(robot.status, JSON.stringify(robot.body)).toBe(201);
    const { id, name, secret } = robot.body as { id: number; name: string; secret: string };
    robotId = id;
    expect(name).toBe('robot$compliance+ci');
    const ci = new OciClient(wharf.url, basicAuth(name, secret), wharf.fetch);
    digest = (await ci.pushImage('compliance/app', 'v1')).digest;
    expect((await ci.request('GET', '/v2/compliance/app/manifests/v1')).status).toBe(200);

    expect((await wharf.call('PUT', `/api/v2.0/robots/${id}`, admin, { disable: true })).status).toBe(200);
    expect((await wharf.call('PATCH', `/api/v2.0/robots/${id}`, admin, {})).status).toBe(200);
    const adminClient = new OciClient(wharf.url, admin, wharf.fetch);
    expect((await adminClient.request('DELETE', `/v2/compliance/app/manifests/${digest}`)).status).toBe(202);

    const expected = [
      'login user admin by admin',
      'login user admin by admin FAILED',
      'create project compliance by admin',
      'create user auditor by admin',
      'create member auditor by admin',
      'update member auditor by admin',
      'create robot robot$compliance+ci by admin',
      'create artifact compliance/app:v1 by robot$compliance+ci',
      'pull artifact compliance/app:v1 by robot$compliance+ci',
      'disable robot robot$compliance+ci by admin',
      'refresh_secret robot robot$compliance+ci by admin',
      `delete artifact compliance/app@${digest} by admin`,
    ];
    // Entries are written when their events are dispatched (pulls after their batch's flush).
    const entries = await eventually(
      'the scenario in the audit log',
      () => auditLog(wharf, '/api/v2.0/auditlog-exts?page_size=100&sort=op_time'),
      (all) => all.length >= expected.length && all.some((e) => e.operation === 'pull'),
    );
    expect(entries.map(line).sort()).toEqual([...expected].sort());

    const described = (operation: string, type: string) =>
      entries.find((e) => e.operation === operation && e.resource_type === type)?.operation_description;
    expect(described('create', 'member')).toBe('added user auditor to project compliance as developer');
    expect(described('update', 'member')).toBe(
      'changed the role of user auditor in project compliance from developer to maintainer',
    );
    expect(described('create', 'robot')).toMatch(
      /^created project robot robot\$compliance\+ci: .*permissions=project\/compliance: push repository, pull repository/,
    );
    expect(described('disable', 'robot')).toBe('disabled project robot robot$compliance+ci');
    expect(described('refresh_secret', 'robot')).toBe(
      'refreshed the secret of project robot robot$compliance+ci',
    );
    expect(described('delete', 'artifact')).toBe(`deleted compliance/app@${digest} with tags v1`);
    expect(entries.find((e) => !e.operation_result)?.operation_description).toBe('failed sign-in as admin');
    // Entries of the project carry its id; the project's own log holds them.
    const project = await wharf.call('GET', '/api/v2.0/projects/compliance', admin);
    const projectId = (project.body as { project_id: number }).project_id;
    const own = await auditLog(wharf, '/api/v2.0/projects/compliance/auditlog-exts?page_size=100');
    expect(own.map(line).sort()).toEqual(
      expected.filter((l) => !l.startsWith('login') && !l.includes(' user ')).sort(),
    );
    expect(own.every((e) => e.project_id === projectId)).toBe(true);
  });

  it('forwards every entry to syslog as RFC 5424, robots as robots', async () => {
    const lines = await eventually(
      'the entries at the syslog receiver',
      async () => [...syslog.lines],
      (l) => l.length >= 12,
    );
    expect(lines).toHaveLength(12);
    for (const l of lines) {
      expect(l).toMatch(
        /^<1(08|10)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ wharf \d+ \S+ \[audit@32473 .*\] .+$/,
      );
    }
    const push = lines.find((l) => l.includes(' create_artifact '));
    expect(push).toContain('operator="robot$compliance+ci" operator_kind="robot"');
    expect(push).toContain('resource="compliance/app:v1"');
    // A refused sign-in is a warning (severity 4) with result failure.
    const failed = lines.filter((l) => l.includes('result="failure"'));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/^<108>1 .* login_user \[/);
    expect(lines.some((l) => l.includes('secret') && !l.includes('refresh'))).toBe(false);
    expect(robotId).toBeGreaterThan(0);
  });
});

describe('audit log API', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessWharf({ audit: { log_pulls: false } }, { projects: ['audited', 'other'] });
    const admin = new OciClient(wharf.url, wharf.adminAuth, wharf.fetch);
    await admin.pushImage('audited/app', 'v1');
    expect((await admin.request('GET', '/v2/audited/app/manifests/v1')).status).toBe(200);
    await admin.pushImage('other/app', 'v1');
    const user = await wharf.call('POST', '/api/v2.0/users', wharf.adminAuth, {
      username: 'dev',
      password: PASSWORD,
    });
    expect(user.status).toBe(201);
    const member = await wharf.call('POST', '/api/v2.0/projects/audited/members', wharf.adminAuth, {
      role_id: 2,
      member_user: { username: 'dev' },
    });
    expect(member.status).toBe(201);
    await eventually(
      'the changes in the audit log',
      () => auditLog(wharf, '/api/v2.0/audit-logs?page_size=100'),
      (all) =>
        all.filter((e) => e.operation === 'create' && e.resource_type === 'artifact').length === 2 &&
        all.some((e) => e.resource_type === 'member'),
    );
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('keeps /audit-logs in its shape, newest first, with Harbor q filters', async () => {
    const all = await auditLog(wharf, '/api/v2.0/audit-logs?page_size=100');
    expect(Object.keys(all[0] ?? {}).sort()).toEqual(
      ['id', 'op_time', 'operation', 'resource', 'resource_type', 'username'].sort(),
    );
    const times = all.map((e) => Date.parse(e.op_time));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // log_pulls is off: the pull left no entry.
    expect(all.some((e) => e.operation === 'pull')).toBe(false);
    const q = (filter: string) => `/api/v2.0/audit-logs?page_size=100&q=${encodeURIComponent(filter)}`;
    const creates = await auditLog(wharf, q('operation=create,resource_type=artifact'));
    expect(creates.map((e) => e.resource).sort()).toEqual(['audited/app:v1', 'other/app:v1']);
    expect(
      (await auditLog(wharf, q('resource=~audited/'))).every((e) => e.resource.includes('audited/')),
    ).toBe(true);
    expect((await auditLog(wharf, q('username=admin'))).length).toBe(all.length);
    expect(await auditLog(wharf, q('username=nobody'))).toEqual([]);
    expect(await auditLog(wharf, q('op_time=[2000-01-01 00:00:00~2000-01-02 00:00:00]'))).toEqual([]);
    expect((await auditLog(wharf, q(`op_time=[2000-01-01 00:00:00~2999-01-01 00:00:00]`))).length).toBe(
      all.length,
    );
    const bad = await wharf.call(
      'GET',
      `/api/v2.0/audit-logs?q=${encodeURIComponent('op_time=[x~y]')}`,
      wharf.adminAuth,
    );
    expect(bad.status).toBe(400);
    const badSort = await wharf.call('GET', '/api/v2.0/auditlog-exts?sort=resource', wharf.adminAuth);
    expect(badSort.status).toBe(400);
    // Paging: X-Total-Count and a page of one.
    const page = await wharf.app.inject({
      method: 'GET',
      url: '/api/v2.0/auditlog-exts?page=2&page_size=1',
      headers: { authorization: wharf.adminAuth },
    });
    expect(page.headers['x-total-count']).toBe(String(all.length));
    expect(JSON.parse(page.body)).toHaveLength(1);
  });

  it('serves /auditlog-exts with description and result, oldest first on request', async () => {
    const ext = await auditLog(wharf, '/api/v2.0/auditlog-exts?page_size=100&sort=op_time');
    expect(Object.keys(ext[0] ?? {}).sort()).toEqual(
      [
        'id',
        'op_time',
        'operation',
        'operation_description',
        'operation_result',
        'project_id',
        'resource',
        'resource_type',
        'username',
      ].sort(),
    );
    const times = ext.map((e) => Date.parse(e.op_time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(ext.find((e) => e.resource === 'audited/app:v1')?.operation_description).toMatch(
      /^pushed audited\/app@sha256:[0-9a-f]{64} tagged v1$/,
    );
  });

  it('lists the event types', async () => {
    const res = await wharf.call('GET', '/api/v2.0/auditlog-exts/events', wharf.adminAuth);
    expect(res.status).toBe(200);
    const types = (res.body as { event_type: string }[]).map((t) => t.event_type);
    for (const t of [
      'create_artifact',
      'delete_artifact',
      'pull_artifact',
      'login_user',
      'create_project',
      'update_member',
      'disable_robot',
      'refresh_secret_robot',
    ]) {
      expect(types).toContain(t);
    }
    expect((await wharf.call('GET', '/api/v2.0/auditlog-exts/events', undefined)).status).toBe(401);
  });

  it('scopes project logs to the project and to those allowed to read them', async () => {
    const dev = basicAuth('dev', PASSWORD);
    for (const path of ['/api/v2.0/projects/audited/logs', '/api/v2.0/projects/audited/auditlog-exts']) {
      const own = await auditLog(wharf, `${path}?page_size=100`, dev);
      expect(own.some((e) => e.resource === 'audited/app:v1' && e.operation === 'create')).toBe(true);
      expect(own.some((e) => e.resource.startsWith('other/') || e.resource_type === 'user')).toBe(false);
    }
    expect((await wharf.call('GET', '/api/v2.0/audit-logs', dev)).status).toBe(403);
    expect((await wharf.call('GET', '/api/v2.0/auditlog-exts', dev)).status).toBe(403);
    expect((await wharf.call('GET', '/api/v2.0/auditlog-exts', undefined)).status).toBe(401);
    // A private project the caller may not see answers as a missing one.
    expect((await wharf.call('GET', '/api/v2.0/projects/other/auditlog-exts', dev)).status).toBe(404);
    expect((await wharf.call('GET', '/api/v2.0/projects/other/logs', dev)).status).toBe(404);
  });
});

describe('audit log: the other administrative changes', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessWharf({});
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('names users, projects, members, robots, endpoints and labels, and never a secret', async () => {
    const admin = wharf.adminAuth;
    const ok = async (method: string, path: string, body?: unknown) => {
      const res = await wharf.call(method, `/api/v2.0${path}`, admin, body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      return res;
    };
    await ok('POST', '/projects', { project_name: 'ops', metadata: { public: 'false' } });
    await ok('PUT', '/projects/ops', { metadata: { public: 'true' } });
    await ok('POST', '/users', { username: 'ann', password: PASSWORD, email: 'ann@example.org' });
    const userId = ((await ok('GET', '/users?username=ann')).body as { user_id: number }[])[0]?.user_id;
    await ok('PUT', `/users/${userId}`, { realname: 'Ann Example' });
    await ok('PUT', `/users/${userId}/password`, { new_password: 'Another-Passw0rd' });
    await ok('PUT', `/users/${userId}/sysadmin`, { sysadmin_flag: true });
    await ok('POST', '/projects/ops/members', { role_id: 3, member_user: { username: 'ann' } });
    const members = (await ok('GET', '/projects/ops/members?entityname=ann')).body as { id: number }[];
    await ok('DELETE', `/projects/ops/members/${members[0]?.id}`);
    const robot = await ok('POST', '/robots', {
      name: 'sync',
      level: 'system',
      duration: -1,
      disable: true,
      permissions: [
        { kind: 'project', namespace: 'ops', access: [{ resource: 'repository', action: 'pull' }] },
      ],
    });
    const robotId = (robot.body as { id: number }).id;
    await ok('PUT', `/robots/${robotId}`, { disable: false, description: 'nightly sync' });
    await ok('DELETE', `/robots/${robotId}`);
    const registry = await ok('POST', '/registries', {
      name: 'branch',
      url: 'http://127.0.0.1:9/',
      type: 'docker-registry',
      credential: { type: 'basic', access_key: 'peer', access_secret: 'Peer-Secret-1' },
    });
    const registryId = Number(
      (
        await wharf.app.inject({
          method: 'GET',
          url: '/api/v2.0/registries',
          headers: { authorization: admin },
        })
      )
        .json<{ id: number; name: string }[]>()
        .find((r) => r.name === 'branch')?.id,
    );
    expect(registry.status).toBe(201);
    await ok('DELETE', `/registries/${registryId}`);
    await ok('POST', '/labels', { name: 'gold', scope: 'g' });
    await ok('DELETE', `/users/${userId}`);
    await ok('DELETE', '/projects/ops');

    const expected = [
      'create project ops by admin',
      'update project ops by admin',
      'create user ann by admin',
      'update user ann by admin',
      'change_password user ann by admin',
      'change_sysadmin user ann by admin',
      'create member ann by admin',
      'delete member ann by admin',
      'create robot robot$sync by admin',
      'enable robot robot$sync by admin',
      'update robot robot$sync by admin',
      'delete robot robot$sync by admin',
      'create registry branch by admin',
      'delete registry branch by admin',
      'create label gold by admin',
      'delete user ann by admin',
      'delete project ops by admin',
    ];
    const entries = await eventually(
      'the changes in the audit log',
      () => auditLog(wharf, '/api/v2.0/auditlog-exts?page_size=100'),
      (all) => all.length >= expected.length,
    );
    expect(entries.map(line).sort()).toEqual([...expected].sort());
    const described = (operation: string, type: string) =>
      entries.find((e) => e.operation === operation && e.resource_type === type)?.operation_description;
    expect(described('update', 'project')).toBe('updated project ops: public=true');
    expect(described('change_sysadmin', 'user')).toBe('granted system administrator rights of user ann');
    expect(described('delete', 'member')).toBe('removed user ann (guest) from project ops');
    expect(described('update', 'robot')).toBe('updated system robot robot$sync: description=nightly sync');
    expect(described('create', 'registry')).toMatch(/^created registry branch: /);
    for (const e of entries) {
      expect(e.operation_description).not.toMatch(/Passw0rd|Peer-Secret|access_secret|credential/);
    }
  });
});
