import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireGcLease, releaseGcLease } from '../../src/metadata/gc-lease-table.js';
import { apiCaller, basicAuth } from '../helpers/api-client.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { waitFor } from '../helpers/poll.js';

// Harbor's system maintenance API: /system/purgeaudit and /system/gc over one implementation
// (services/maintenance). Schedules of every type, manual runs with their history and logs, dry
// runs, a second manual run refused while one is pending, stop, paging, permissions; the audit
// purge deleting exactly the old entries of the included types; GC through the API.

interface Run {
  id: number;
  job_name: string;
  job_kind: string;
  job_parameters: string;
  job_status: string;
  schedule: { type: string };
  deleted?: boolean;
  creation_time: string;
  update_time: string;
}

describe('/api/v2.0/system/purgeaudit and /system/gc', () => {
  let wharf: InProcessWharf;
  let admin: string;
  let alice: string;
  const call = apiCaller(() => wharf);

  beforeAll(async () => {
    wharf = await startInProcessWharf({ gc: { grace_period_minutes: 0 } }, { projects: ['test'] });
    admin = wharf.adminAuth;
    const created = await call('POST', '/users', admin, {
      username: 'alice',
      password: 'Alice-Passw0rd',
      email: 'alice@example.com',
      realname: 'Alice',
    });
    expect(created.status).toBe(201);
    alice = basicAuth('alice', 'Alice-Passw0rd');
  });
  afterAll(async () => {
    await wharf?.close();
  });

  async function json<T>(res: Response): Promise<T> {
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as T;
  }

  /** Starts a manual run and returns its id (from the Location header, as Harbor gives it). */
  async function runNow(path: string, parameters: Record<string, unknown>): Promise<number> {
    const res = await call('POST', `${path}/schedule`, admin, { schedule: { type: 'Manual' }, parameters });
    expect(res.status, await res.clone().text()).toBe(201);
    const location = res.headers.get('location') ?? '';
    expect(location).toMatch(new RegExp(`^/api/v2.0${path}/\\d+$`));
    return Number(location.split('/').pop());
  }

  async function finished(path: string, id: number): Promise<Run> {
    return waitFor(`run ${id} of ${path} to finish`, async () => {
      const run = await json<Run>(await call('GET', `${path}/${id}`, admin));
      return ['Success', 'Error', 'Stopped'].includes(run.job_status) ? run : undefined;
    });
  }

  async function insertAudit(operation: string, resourceType: string, hoursAgo: number, resource: string) {
    await wharf.server.db.query(
      `INSERT INTO audit_logs (project_id, operator, resource_type, resource, operation, op_time)
       VALUES (NULL, 'admin', $1, $2, $3, now() - $4::float8 * interval '1 hour')`,
      [resourceType, resource, operation, hoursAgo],
    );
  }

  async function auditResources(): Promise<string[]> {
    const rows = await wharf.server.db.query<{ resource: string }>(
      `SELECT resource FROM audit_logs WHERE resource LIKE 'purge-test/%' ORDER BY resource`,
    );
    return rows.map((r) => r.resource);
  }

  it('is for system administrators: 401 anonymous, 403 others', async () => {
    for (const base of ['/system/purgeaudit', '/system/gc']) {
      const paths: Array<[string, string, unknown?]> = [
        ['GET', base],
        ['GET', `${base}/1`],
        ['PUT', `${base}/1`],
        ['GET', `${base}/1/log`],
        ['GET', `${base}/schedule`],
        ['POST', `${base}/schedule`, { schedule: { type: 'Manual' } }],
        ['PUT', `${base}/schedule`, { schedule: { type: 'None' } }],
      ];
      for (const [method, path, body] of paths) {
        expect((await call(method, path, undefined, body)).status, `${method} ${path}`).toBe(401);
        expect((await call(method, path, alice, body)).status, `${method} ${path}`).toBe(403);
      }
    }
  });

  it('sets, shows, replaces and removes a schedule of each type', async () => {
    const path = '/system/purgeaudit/schedule';
    const none = await call('GET', path, admin);
    expect(none.status).toBe(200);
    expect(await none.text()).toBe('');
    const parameters = {
      audit_retention_hour: 48,
      include_event_types: 'create_artifact,pull_artifact',
      dry_run: true,
    };
    const cases: Array<[string, string]> = [
      ['Daily', '0 0 2 * * *'],
      ['Hourly', '0 0 * * * *'],
      ['Weekly', '0 0 0 * * 0'],
      ['Custom', '0 30 4 1 * *'],
    ];
    for (const [i, [type, cron]] of cases.entries()) {
      const res = await call(i === 0 ? 'POST' : 'PUT', path, admin, { schedule: { type, cron }, parameters });
      expect(res.status, await res.clone().text()).toBe(i === 0 ? 201 : 200);
      const shown = await json<{
        schedule: { type: string; cron: string; next_scheduled_time: string };
        job_parameters: string;
      }>(await call('GET', path, admin));
      expect(shown.schedule).toMatchObject({ type, cron });
      // Harbor's shape of a schedule: a history entry whose job_kind is the cron.
      expect(shown).toMatchObject({ job_name: '', job_kind: cron });
      expect(Date.parse(shown.schedule.next_scheduled_time)).toBeGreaterThan(Date.now() - 1000);
      expect(JSON.parse(shown.job_parameters)).toEqual(parameters);
    }
    expect((await call('PUT', path, admin, { schedule: { type: 'None' } })).status).toBe(200);
    expect(await (await call('GET', path, admin)).text()).toBe('');
  });

  it('refuses bad schedules and parameters with 400', async () => {
    const bad: Array<[string, unknown]> = [
      ['/system/purgeaudit/schedule', { schedule: { type: 'Daily', cron: '0 2 * * *' } }], // 5 fields
      ['/system/purgeaudit/schedule', { schedule: { type: 'Custom', cron: '0 0 99 * * *' } }],
      ['/system/purgeaudit/schedule', { schedule: { type: 'Daily' } }],
      ['/system/purgeaudit/schedule', { schedule: { type: 'Monthly', cron: '0 0 0 1 * *' } }],
      ['/system/purgeaudit/schedule', {}],
      [
        '/system/purgeaudit/schedule',
        { schedule: { type: 'Manual' }, parameters: { audit_retention_hour: 'x' } },
      ],
      [
        '/system/purgeaudit/schedule',
        { schedule: { type: 'Manual' }, parameters: { include_event_types: 'drop table;' } },
      ],
      ['/system/purgeaudit/schedule', { schedule: { type: 'Manual' }, parameters: { dry_run: 'maybe' } }],
      ['/system/gc/schedule', { schedule: { type: 'Manual' }, parameters: { workers: 0 } }],
      ['/system/gc/schedule', { schedule: { type: 'Manual' }, parameters: { workers: 6 } }],
      [
        '/system/gc/schedule',
        { schedule: { type: 'Daily', cron: '0 0 1 * * *' }, parameters: { workers: 9 } },
      ],
      ['/system/gc/schedule', { schedule: { type: 'Manual' }, parameters: { delete_untagged: 'sure' } }],
    ];
    for (const [path, body] of bad) {
      const res = await call('POST', path, admin, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('BAD_REQUEST');
    }
    // Nothing was scheduled or started by them.
    expect(await (await call('GET', '/system/gc/schedule', admin)).text()).toBe('');
    expect(await json<Run[]>(await call('GET', '/system/gc', admin))).toEqual([]);
  });

  it('purges exactly the old entries of the included types; a dry run only counts them', async () => {
    await insertAudit('create', 'artifact', 100, 'purge-test/old-create');
    await insertAudit('delete', 'artifact', 100, 'purge-test/old-delete');
    await insertAudit('pull', 'artifact', 100, 'purge-test/old-pull');
    await insertAudit('create', 'artifact', 1, 'purge-test/new-create');
    await insertAudit('delete', 'artifact', 1, 'purge-test/new-delete');
    const all = await auditResources();
    const parameters = { audit_retention_hour: 48, include_event_types: 'create_artifact,delete_artifact' };

    const dry = await runNow('/system/purgeaudit', { ...parameters, dry_run: true });
    const dryRun = await finished('/system/purgeaudit', dry);
    expect(dryRun).toMatchObject({ job_name: 'PURGE_AUDIT_LOG', job_kind: 'MANUAL', job_status: 'Success' });
    expect(dryRun.schedule.type).toBe('Manual');
    expect(JSON.parse(dryRun.job_parameters)).toEqual({ ...parameters, dry_run: true });
    expect(dryRun).not.toHaveProperty('deleted');
    const dryLog = await call('GET', `/system/purgeaudit/${dry}/log`, admin);
    expect(dryLog.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await dryLog.text()).toContain('[DRYRUN] 2 audit log entries would be purged');
    expect(await auditResources()).toEqual(all);

    const real = await runNow('/system/purgeaudit', { ...parameters, dry_run: false });
    expect((await finished('/system/purgeaudit', real)).job_status).toBe('Success');
    expect(await (await call('GET', `/system/purgeaudit/${real}/log`, admin)).text()).toContain(
      'purged 2 audit log entries',
    );
    expect(await auditResources()).toEqual(
      all.filter((r) => r !== 'purge-test/old-create' && r !== 'purge-test/old-delete'),
    );
  });

  it("keeps a run's status and log after the job service has purged the job", async () => {
    const [latest] = await json<Run[]>(await call('GET', '/system/purgeaudit', admin));
    expect(latest?.job_status).toBe('Success');
    // As the job service's retention does 14 days after a job ended (its log goes with it).
    await wharf.server.db.query('DELETE FROM jobs WHERE id = $1', [latest!.id]);
    const run = await json<Run>(await call('GET', `/system/purgeaudit/${latest!.id}`, admin));
    expect(run).toMatchObject({ id: latest!.id, job_status: 'Success', job_kind: 'MANUAL' });
    const log = await call('GET', `/system/purgeaudit/${latest!.id}/log`, admin);
    expect(log.status).toBe(200);
    expect(await log.text()).toContain('purged 2 audit log entries');
  });

  it('refuses a second manual run while one is pending (409), and stops the pending one', async () => {
    // A paused queue keeps the run pending, the window in which a second one must be refused.
    const pause = await call('PUT', '/jobservice/queues/PURGE_AUDIT_LOG', admin, { action: 'pause' });
    expect(pause.status).toBe(200);
    try {
      const parameters = { audit_retention_hour: 1, include_event_types: 'pull_artifact' };
      const first = await runNow('/system/purgeaudit', parameters);
      expect((await json<Run>(await call('GET', `/system/purgeaudit/${first}`, admin))).job_status).toBe(
        'Pending',
      );
      const second = await call('POST', '/system/purgeaudit/schedule', admin, {
        schedule: { type: 'Manual' },
        parameters,
      });
      expect(second.status).toBe(409);
      expect(((await second.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('CONFLICT');
      expect((await call('PUT', `/system/purgeaudit/${first}`, admin)).status).toBe(200);
      expect((await finished('/system/purgeaudit', first)).job_status).toBe('Stopped');
      // Stopped: a new run may start.
      const third = await runNow('/system/purgeaudit', parameters);
      expect((await call('PUT', `/system/purgeaudit/${third}`, admin)).status).toBe(200);
      expect((await finished('/system/purgeaudit', third)).job_status).toBe('Stopped');
    } finally {
      await call('PUT', '/jobservice/queues/PURGE_AUDIT_LOG', admin, { action: 'resume' });
    }
  });

  it('answers 404 for runs it does not have, and 400 for ids that are not numbers', async () => {
    const purges = await json<Run[]>(await call('GET', '/system/purgeaudit', admin));
    const aPurge = purges[0]?.id ?? 0;
    // A purge's id is no GC run.
    expect((await call('GET', `/system/gc/${aPurge}`, admin)).status).toBe(404);
    expect((await call('GET', `/system/gc/${aPurge}/log`, admin)).status).toBe(404);
    expect((await call('PUT', `/system/gc/${aPurge}`, admin)).status).toBe(404);
    expect((await call('GET', '/system/purgeaudit/987654321', admin)).status).toBe(404);
    expect((await call('GET', '/system/purgeaudit/abc', admin)).status).toBe(400);
  });

  it("pages, sorts and filters the history in Harbor's way", async () => {
    const res = await call('GET', '/system/purgeaudit?page=1&page_size=2', admin);
    const page = await json<Run[]>(res);
    const total = Number(res.headers.get('x-total-count'));
    expect(total).toBeGreaterThanOrEqual(4);
    expect(page).toHaveLength(2);
    expect(res.headers.get('link')).toContain('rel="next"');
    // Newest first by default.
    expect(page[0]!.id).toBeGreaterThan(page[1]!.id);
    const oldestFirst = await json<Run[]>(
      await call('GET', '/system/purgeaudit?sort=creation_time&page_size=100', admin),
    );
    expect(oldestFirst).toHaveLength(total);
    expect(oldestFirst.map((r) => r.id)).toEqual([...oldestFirst.map((r) => r.id)].sort((a, b) => a - b));
    const stopped = await json<Run[]>(
      await call('GET', `/system/purgeaudit?q=${encodeURIComponent('job_status=Stopped')}`, admin),
    );
    expect(stopped.length).toBe(2);
    expect(stopped.every((r) => r.job_status === 'Stopped')).toBe(true);
    const one = await json<Run[]>(await call('GET', `/system/purgeaudit?q=id%3D${page[1]!.id}`, admin));
    expect(one.map((r) => r.id)).toEqual([page[1]!.id]);
    expect((await call('GET', '/system/purgeaudit?sort=bogus', admin)).status).toBe(400);
    expect((await call('GET', '/system/purgeaudit?q=job_status%3DDone', admin)).status).toBe(400);
    expect((await call('GET', '/system/purgeaudit?q=color%3Dred', admin)).status).toBe(400);
  });

  it('records the runs its schedule fires as SCHEDULE runs', async () => {
    const put = await call('PUT', '/system/purgeaudit/schedule', admin, {
      schedule: { type: 'Custom', cron: '* * * * * *' },
      parameters: { audit_retention_hour: 1000, include_event_types: 'pull_artifact' },
    });
    expect(put.status).toBe(200);
    try {
      const scheduled = await waitFor('a scheduled purge to succeed', async () => {
        const runs = await json<Run[]>(
          await call(
            'GET',
            `/system/purgeaudit?q=${encodeURIComponent('job_kind=SCHEDULE,job_status=Success')}`,
            admin,
          ),
        );
        return runs[0];
      });
      expect(scheduled.schedule.type).toBe('Schedule');
      expect(await (await call('GET', `/system/purgeaudit/${scheduled.id}/log`, admin)).text()).toContain(
        'purged 0 audit log entries',
      );
    } finally {
      expect(
        (await call('PUT', '/system/purgeaudit/schedule', admin, { schedule: { type: 'None' } })).status,
      ).toBe(200);
    }
  });

  it('refuses a GC run (409) while the CLI holds the garbage collection lease', async () => {
    expect(await acquireGcLease(wharf.server.db, 'wharf gc (test)', 60_000)).toBeNull();
    try {
      const res = await call('POST', '/system/gc/schedule', admin, { schedule: { type: 'Manual' } });
      expect(res.status).toBe(409);
      expect(await res.text()).toContain('wharf gc (test)');
    } finally {
      await releaseGcLease(wharf.server.db, 'wharf gc (test)');
    }
    expect(await json<Run[]>(await call('GET', '/system/gc', admin))).toEqual([]);
  });

  it('collects garbage through the API: a dry run deletes nothing, a run deletes the unreferenced blobs', async () => {
    const oci = new OciClient(wharf.url, admin, wharf.fetch);
    const image = await oci.pushImage('test/gc-api', 'v1', { layers: 2 });
    const deleted = await oci.request('DELETE', `/v2/test/gc-api/manifests/${image.digest}`);
    expect(deleted.status).toBe(202);
    const layerDigests = image.layers.map((l) => l.digest);
    const blobRows = async () =>
      (
        await wharf.server.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM blobs WHERE digest = ANY($1::text[])',
          [layerDigests],
        )
      )[0]?.n;
    expect(await blobRows()).toBe(2);

    const dry = await runNow('/system/gc', { dry_run: true, workers: 2 });
    const dryRun = await finished('/system/gc', dry);
    expect(dryRun).toMatchObject({ job_name: 'GARBAGE_COLLECTION', job_status: 'Success', deleted: false });
    expect(JSON.parse(dryRun.job_parameters)).toEqual({ delete_untagged: false, dry_run: true, workers: 2 });
    expect(await (await call('GET', `/system/gc/${dry}/log`, admin)).text()).toMatch(
      /dry run: would delete [1-9]\d* blobs/,
    );
    expect(await blobRows()).toBe(2);

    const real = await runNow('/system/gc', { delete_untagged: true, workers: 3 });
    expect((await finished('/system/gc', real)).job_status).toBe('Success');
    const log = await (await call('GET', `/system/gc/${real}/log`, admin)).text();
    expect(log).toMatch(/deleted [1-9]\d* blobs/);
    expect(await blobRows()).toBe(0);
    for (const digest of layerDigests) {
      expect((await oci.request('HEAD', `/v2/test/gc-api/blobs/${digest}`)).status).toBe(404);
    }
    const history = await json<Run[]>(await call('GET', '/system/gc', admin));
    expect(history.map((r) => r.id)).toEqual([real, dry]);
  });
});

describe('audit.retention_days as the audit purge schedule', () => {
  let wharf: InProcessWharf;
  const call = apiCaller(() => wharf);

  afterAll(async () => {
    await wharf?.close();
  });

  it('is the default schedule until an administrator changes it, and stays changed after a restart', async () => {
    wharf = await startInProcessWharf({ audit: { retention_days: 7 } }, { projects: [] });
    const admin = wharf.adminAuth;
    const shown = (await (await call('GET', '/system/purgeaudit/schedule', admin)).json()) as {
      schedule: { type: string; cron: string };
      job_parameters: string;
    };
    expect(shown.schedule).toMatchObject({ type: 'Hourly', cron: '0 0 * * * *' });
    const parameters = JSON.parse(shown.job_parameters) as Record<string, unknown>;
    expect(parameters).toMatchObject({ audit_retention_hour: 168, dry_run: false });
    expect(String(parameters.include_event_types).split(',')).toContain('create_artifact');

    expect(
      (await call('PUT', '/system/purgeaudit/schedule', admin, { schedule: { type: 'None' } })).status,
    ).toBe(200);
    await wharf.restart();
    expect(await (await call('GET', '/system/purgeaudit/schedule', admin)).text()).toBe('');
  });
});
