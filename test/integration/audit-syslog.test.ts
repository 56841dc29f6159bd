import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { eventually } from '../helpers/poll.js';
import { startSyslogReceiver, type SyslogReceiver } from '../helpers/syslog-receiver.js';

// Forwarding the audit log to syslog (Harbor's audit_log_forward_endpoint): an outage of the
// receiver holds up nothing and loses no database entry; the lines arrive once it is back.
// skip_database forwards only.

interface AuditExt {
  resource: string;
  resource_type: string;
  operation: string;
}

async function entries(wharf: InProcessWharf): Promise<AuditExt[]> {
  const res = await wharf.call('GET', '/api/v2.0/auditlog-exts?page_size=100', wharf.adminAuth);
  expect(res.status).toBe(200);
  return res.body as AuditExt[];
}

describe('audit forwarding to syslog', () => {
  let wharf: InProcessWharf | undefined;
  let syslog: SyslogReceiver | undefined;
  afterEach(async () => {
    await wharf?.close();
    await syslog?.close();
    wharf = undefined;
    syslog = undefined;
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('keeps the registry working and the database entries during an outage, then delivers', async () => {
    const receiver = await startSyslogReceiver();
    syslog = receiver;
    await receiver.close();
    const w = await startInProcessWharf({ audit: { forward_endpoint: `127.0.0.1:${receiver.port}` } });
    wharf = w;
    // Harbor's /configurations shows the forwarding, read-only (the file sets it for every instance).
    const shown = (await w.call('GET', '/api/v2.0/configurations', w.adminAuth)).body as Record<
      string,
      { value: unknown; editable: boolean }
    >;
    expect(shown.audit_log_forward_endpoint).toEqual({
      value: `127.0.0.1:${receiver.port}`,
      editable: false,
    });
    expect(shown.skip_audit_log_database).toEqual({ value: false, editable: false });
    const change = await w.call('PUT', '/api/v2.0/configurations', w.adminAuth, {
      skip_audit_log_database: true,
    });
    expect(change.status).toBe(400);
    expect(JSON.stringify(change.body)).toContain('audit.skip_database');
    // The receiver is down: changes and pushes still answer, and their entries are written.
    expect((await w.call('POST', '/api/v2.0/projects', w.adminAuth, { project_name: 'during' })).status).toBe(
      201,
    );
    await new OciClient(w.url, w.adminAuth, w.fetch).pushImage('during/app', 'v1');
    await eventually(
      'the entries in the database',
      () => entries(w),
      (all) => all.some((e) => e.resource === 'during') && all.some((e) => e.resource === 'during/app:v1'),
    );
    expect(receiver.lines).toEqual([]);

    await receiver.reopen();
    const lines = await eventually(
      'the held lines at the receiver',
      async () => [...receiver.lines],
      (l) => l.length >= 2,
    );
    expect(lines.some((l) => l.includes(' create_project ') && l.includes('resource="during"'))).toBe(true);
    expect(lines.some((l) => l.includes(' create_artifact ') && l.includes('resource="during/app:v1"'))).toBe(
      true,
    );
  });

  it('forwards only with skip_database', async () => {
    const receiver = await startSyslogReceiver();
    syslog = receiver;
    const w = await startInProcessWharf({
      audit: { forward_endpoint: `127.0.0.1:${receiver.port}`, skip_database: true },
    });
    wharf = w;
    expect(
      (await w.call('POST', '/api/v2.0/projects', w.adminAuth, { project_name: 'forwarded' })).status,
    ).toBe(201);
    await eventually(
      'the line at the receiver',
      async () => [...receiver.lines],
      (l) => l.some((x) => x.includes('resource="forwarded"')),
    );
    // The entry was consumed (it reached syslog), and no row was written.
    expect(await entries(w)).toEqual([]);
  });

  it('refuses skip_database without an endpoint, and an endpoint that is not host:port', async () => {
    await expect(startInProcessWharf({ audit: { skip_database: true } })).rejects.toThrow(/forward_endpoint/);
    await expect(startInProcessWharf({ audit: { forward_endpoint: 'syslog.example' } })).rejects.toThrow(
      /host:port/,
    );
  });
});
