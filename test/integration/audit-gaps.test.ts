import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { eventually } from '../helpers/poll.js';
import { startSyslogReceiver, type SyslogReceiver } from '../helpers/syslog-receiver.js';

// Issue #11 point 4, the gaps the audit refactor left: attaching and detaching labels, lifting a
// login lock and updating a repository are audited again (each recorded with its change), and
// every entry made through the API names the caller's address (client_ip, seen here in the
// RFC 5424 lines the syslog forwarder sends, the one place the address is shown).

interface AuditExt {
  resource: string;
  resource_type: string;
  operation: string;
  operation_description: string;
  username: string;
  project_id: number;
}

async function auditExts(wharf: InProcessWharf, path: string): Promise<AuditExt[]> {
  const res = await wharf.call('GET', path, wharf.adminAuth);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as AuditExt[];
}

/** A JSON API request from a chosen loopback address. */
async function callFrom(
  wharf: InProcessWharf,
  address: string,
  method: 'POST' | 'PUT',
  url: string,
  body: unknown,
) {
  const res = await wharf.app.inject({
    method,
    url,
    remoteAddress: address,
    headers: { authorization: wharf.adminAuth, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  return res.statusCode;
}

describe('audit gaps', () => {
  let wharf: InProcessWharf;
  let syslog: SyslogReceiver;
  let digest: string;

  beforeAll(async () => {
    syslog = await startSyslogReceiver();
    wharf = await startInProcessWharf(
      { audit: { forward_endpoint: `127.0.0.1:${syslog.port}` } },
      { projects: ['gaps'] },
    );
    digest = (await new OciClient(wharf.url, wharf.adminAuth, wharf.fetch).pushImage('gaps/app', 'v1'))
      .digest;
  });
  afterAll(async () => {
    await wharf?.close();
    await syslog?.close();
  });

  it('audits label attach and detach, a repository update and a lifted login lock', async () => {
    const admin = wharf.adminAuth;
    const label = await wharf.call('POST', '/api/v2.0/labels', admin, { name: 'reviewed', scope: 'g' });
    expect(label.status, JSON.stringify(label.body)).toBe(201);
    const found = await wharf.call('GET', '/api/v2.0/labels?scope=g&name=reviewed', admin);
    const labelId = (found.body as Array<{ id: number }>)[0]?.id ?? 0;
    expect(labelId).toBeGreaterThan(0);
    const artifactPath = '/api/v2.0/projects/gaps/repositories/app/artifacts/v1/labels';
    expect((await wharf.call('POST', artifactPath, admin, { id: labelId })).status).toBe(200);
    // A refused attach (already there) changes nothing and records nothing.
    expect((await wharf.call('POST', artifactPath, admin, { id: labelId })).status).toBe(409);
    expect((await wharf.call('DELETE', `${artifactPath}/${labelId}`, admin)).status).toBe(200);
    expect((await wharf.call('DELETE', `${artifactPath}/${labelId}`, admin)).status).toBe(404);
    const description = { description: 'the application image' };
    expect(
      (await wharf.call('PUT', '/api/v2.0/projects/gaps/repositories/app', admin, description)).status,
    ).toBe(200);
    // One refused sign-in leaves a failure counter for (admin, this address) to lift.
    const wrong = await wharf.call('GET', '/api/v2.0/users/current', basicAuth('admin', 'Wrong-Passw0rd'));
    expect(wrong.status).toBe(401);
    expect((await wharf.call('DELETE', '/api/v2.0/login-locks?principal=admin', admin)).status).toBe(200);

    const entries = await eventually(
      'the four changes in the audit log',
      () => auditExts(wharf, '/api/v2.0/auditlog-exts?page_size=100&sort=op_time'),
      (all) => all.some((e) => e.resource_type === 'login_lock'),
    );
    const described = entries
      .filter((e) => e.operation !== 'create')
      .map((e) => `${e.operation} ${e.resource_type} ${e.resource}: ${e.operation_description}`);
    expect(described).toEqual([
      `attach_label artifact gaps/app@${digest}: attached label reviewed (id ${labelId}) to gaps/app@${digest}`,
      `detach_label artifact gaps/app@${digest}: detached label reviewed (id ${labelId}) from gaps/app@${digest}`,
      'update repository gaps/app: updated repository gaps/app: description=the application image',
      'lift login_lock admin: lifted the login locks of admin (1 cleared)',
    ]);
    // The artifact and repository changes are the project's; its own log lists them (with the
    // project's creation and the push of the setup).
    const own = await auditExts(wharf, '/api/v2.0/projects/gaps/auditlog-exts?page_size=100');
    expect(own.map((e) => `${e.operation} ${e.resource_type}`).sort()).toEqual(
      [
        'attach_label artifact',
        'create artifact',
        'create project',
        'detach_label artifact',
        'update repository',
      ].sort(),
    );
    const events = await wharf.call('GET', '/api/v2.0/auditlog-exts/events', admin);
    const names = (events.body as Array<{ event_type: string }>).map((e) => e.event_type);
    for (const name of [
      'attach_label_artifact',
      'detach_label_artifact',
      'update_repository',
      'lift_login_lock',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('names the client address of every change made through the API', async () => {
    expect(
      await callFrom(wharf, '127.0.0.7', 'POST', '/api/v2.0/projects', { project_name: 'addressed' }),
    ).toBe(201);
    expect(
      await callFrom(wharf, '127.0.0.8', 'POST', '/api/v2.0/users', {
        username: 'dev',
        password: 'Gaps-Passw0rd',
      }),
    ).toBe(201);
    const member = { role_id: 2, member_user: { username: 'dev' } };
    expect(await callFrom(wharf, '127.0.0.9', 'POST', '/api/v2.0/projects/addressed/members', member)).toBe(
      201,
    );
    const lines = await eventually(
      'the member change at the syslog receiver',
      async () => [...syslog.lines],
      (l) => l.some((line) => line.includes(' create_member ')),
    );
    const lineOf = (msgId: string, resource: string) =>
      lines.find((l) => l.includes(` ${msgId} `) && l.includes(`resource="${resource}"`)) ?? '';
    expect(lineOf('create_project', 'addressed')).toContain('client_ip="127.0.0.7"');
    expect(lineOf('create_user', 'dev')).toContain('client_ip="127.0.0.8"');
    expect(lineOf('create_member', 'dev')).toContain('client_ip="127.0.0.9"');
    // Every entry so far came through the API or /v2: each names its address.
    expect(lines.length).toBeGreaterThanOrEqual(9);
    expect(lines.filter((l) => !/ client_ip="127\.0\.0\.\d"/.test(l))).toEqual([]);
  });
});
