import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciClient } from '../helpers/oci-client.js';
import { adminAuth, type WharfHandle } from '../helpers/server.js';
import { startTestWharf } from '../helpers/test-wharf.js';

interface AuditJson {
  id: number;
  username: string;
  resource: string;
  resource_type: string;
  operation: string;
  op_time: string;
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function logs(wharf: WharfHandle, path: string, authorization: string): Promise<AuditJson[]> {
  const res = await fetch(`${wharf.url}${path}`, { headers: { authorization } });
  expect(res.status).toBe(200);
  return (await res.json()) as AuditJson[];
}

describe('audit log', () => {
  let wharf: WharfHandle;
  beforeAll(async () => {
    wharf = await startTestWharf({ projects: ['audited', 'other'] });
  });
  afterAll(async () => {
    await wharf?.stop();
  });

  it('records pushes, pulls, deletes, logins and API changes, with filters and project scope', async () => {
    const admin = adminAuth(wharf);
    const client = new OciClient(wharf.url, admin);
    await client.pushImage('audited/app', 'v1');
    expect((await client.request('GET', '/v2/audited/app/manifests/v1')).status).toBe(200);
    expect((await client.request('DELETE', '/v2/audited/app/manifests/v1')).status).toBe(202);
    await client.pushImage('other/app', 'v1');
    const token = await fetch(
      `${wharf.url}/service/token?service=wharf-registry&scope=repository:audited/app:pull`,
      {
        headers: { authorization: admin },
      },
    );
    expect(token.status).toBe(200);
    const user = await fetch(`${wharf.url}/api/v2.0/users`, {
      method: 'POST',
      headers: { authorization: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'auditor', password: 'Audit-Passw0rd' }),
    });
    expect(user.status).toBe(201);
    const userId = Number(user.headers.get('location')?.split('/').pop());
    const member = await fetch(`${wharf.url}/api/v2.0/projects/audited/members`, {
      method: 'POST',
      headers: { authorization: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ role_id: 2, member_user: { user_id: userId } }),
    });
    expect(member.status).toBe(201);

    const all = await logs(wharf, '/api/v2.0/audit-logs?page_size=100', admin);
    const has = (operation: string, type: string, resource: RegExp) =>
      all.some(
        (e) =>
          e.operation === operation &&
          e.resource_type === type &&
          resource.test(e.resource) &&
          e.username === 'admin',
      );
    expect(has('create', 'artifact', /^audited\/app:v1$/)).toBe(true);
    expect(has('pull', 'artifact', /^audited\/app:v1$/)).toBe(true);
    expect(has('delete', 'tag', /^audited\/app:v1$/)).toBe(true);
    expect(has('login', 'user', /^admin$/)).toBe(true);
    expect(has('create', 'user', /\/users$/)).toBe(true);
    expect(has('create', 'member', /\/projects\/audited\/members$/)).toBe(true);
    // Newest first.
    const times = all.map((e) => Date.parse(e.op_time));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const creates = await logs(
      wharf,
      `/api/v2.0/audit-logs?q=${encodeURIComponent('operation=create,resource_type=artifact')}`,
      admin,
    );
    expect(creates.length).toBeGreaterThanOrEqual(2);
    expect(creates.every((e) => e.operation === 'create' && e.resource_type === 'artifact')).toBe(true);

    // The project's log holds its own events only; its developer may read it, others may not.
    const projectLogs = await logs(
      wharf,
      '/api/v2.0/projects/audited/logs?page_size=100',
      basic('auditor', 'Audit-Passw0rd'),
    );
    expect(projectLogs.some((e) => e.resource === 'audited/app:v1' && e.operation === 'create')).toBe(true);
    expect(projectLogs.some((e) => e.resource.startsWith('other/'))).toBe(false);
    const denied = await fetch(`${wharf.url}/api/v2.0/audit-logs`, {
      headers: { authorization: basic('auditor', 'Audit-Passw0rd') },
    });
    expect(denied.status).toBe(403);
    const otherProject = await fetch(`${wharf.url}/api/v2.0/projects/other/logs`, {
      headers: { authorization: basic('auditor', 'Audit-Passw0rd') },
    });
    // A private project the caller may not see answers as a missing one (issue #10, point 11).
    expect(otherProject.status).toBe(404);
  });
});

describe('audit log without pull records', () => {
  let wharf: WharfHandle;
  beforeAll(async () => {
    wharf = await startTestWharf({ projects: ['quiet'], extraConfig: 'audit:\n  log_pulls: false' });
  });
  afterAll(async () => {
    await wharf?.stop();
  });

  it('records the push but not the pull', async () => {
    const client = new OciClient(wharf.url, adminAuth(wharf));
    await client.pushImage('quiet/app', 'v1');
    expect((await client.request('GET', '/v2/quiet/app/manifests/v1')).status).toBe(200);
    const all = await logs(wharf, '/api/v2.0/audit-logs?page_size=100', adminAuth(wharf));
    expect(all.some((e) => e.operation === 'create' && e.resource === 'quiet/app:v1')).toBe(true);
    expect(all.some((e) => e.operation === 'pull')).toBe(false);
  });
});
