import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backends } from '../../src/wharf.js';
import { apiCaller, basicAuth, createdId } from '../helpers/api-client.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { waitFor } from '../helpers/poll.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

// Issue #12, point 4: tag retention as Harbor's /retentions API. Each template with a dry run
// (lists what would go, deletes nothing) and a real run (deletes exactly those); label selectors;
// immutable tags kept and reported; a schedule firing every second; stop; task logs; the
// TAG_RETENTION webhook; the project's retention_id link. Push and pull times are set in the
// database (days in the past), the facts the templates rank by.

const PROJECT = 'ret';
const DAY_MS = 86_400_000;

interface Execution {
  id: number;
  policy_id: number;
  status: string;
  trigger: string;
  dry_run: boolean;
  start_time: string;
  end_time: string | null;
}
interface Task {
  id: number;
  execution_id: number;
  repository: string;
  status: string;
  status_code: number;
  total: number;
  retained: number;
  job_id: string;
}

function rule(template: string, repo: string, params: Record<string, unknown> = {}, tagSelector?: object) {
  return {
    id: 0,
    priority: 0,
    disabled: false,
    action: 'retain',
    template,
    params,
    tag_selectors: [tagSelector ?? { kind: 'doublestar', decoration: 'matches', pattern: '**' }],
    scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: repo }] },
  };
}

describe('tag retention', () => {
  let wharf: InProcessWharf;
  let backends: Backends;
  let receiver: WebhookReceiver;
  let oci: OciClient;
  let projectId: number;
  let policyId: number;
  const call = apiCaller(() => ({ url: wharf.url, fetch: wharf.fetch }));
  const json = async <T>(res: Response, status = 200): Promise<T> => {
    expect(res.status, await res.clone().text()).toBe(status);
    return (await res.json()) as T;
  };

  const policyBody = (rules: object[], cron = '') => ({
    algorithm: 'or',
    rules,
    trigger: { kind: 'Schedule', settings: { cron }, references: {} },
    scope: { level: 'project', ref: projectId },
  });
  const setPolicy = async (rules: object[], cron = '') => {
    const res = await call('PUT', `/retentions/${policyId}`, wharf.adminAuth, policyBody(rules, cron));
    expect(res.status, await res.text()).toBe(200);
  };

  /** Pushes one image per tag; sets its push time (and pull time) `days` in the past. */
  const pushAged = async (repo: string, tag: string, pushedDaysAgo: number, pulledDaysAgo?: number) => {
    const image = await oci.pushImage(`${PROJECT}/${repo}`, tag);
    const pushed = new Date(Date.now() - pushedDaysAgo * DAY_MS);
    const pulled = pulledDaysAgo === undefined ? null : new Date(Date.now() - pulledDaysAgo * DAY_MS);
    await backends.db.query(
      `UPDATE manifests SET created_at = $2, pull_time = $3 WHERE digest = $1
         AND repository_id = (SELECT id FROM repositories WHERE name = $4)`,
      [image.digest, pushed, pulled, `${PROJECT}/${repo}`],
    );
    await backends.db.query(
      `UPDATE tags SET updated_at = $2, pull_time = $3 WHERE name = $1
         AND repository_id = (SELECT id FROM repositories WHERE name = $4)`,
      [tag, pushed, pulled, `${PROJECT}/${repo}`],
    );
    return image.digest;
  };

  const tagsOf = async (repo: string): Promise<string[]> => {
    const res = await oci.request('GET', `/v2/${PROJECT}/${repo}/tags/list`);
    if (res.status === 404) return [];
    const body = (await res.json()) as { tags: string[] | null };
    return [...(body.tags ?? [])].sort();
  };

  const run = async (dryRun: boolean): Promise<Execution> => {
    const res = await call('POST', `/retentions/${policyId}/executions`, wharf.adminAuth, {
      dry_run: dryRun,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const id = createdId(res);
    return waitFor(`execution ${id} to end`, async () => {
      const list = await json<Execution[]>(
        await call('GET', `/retentions/${policyId}/executions?page_size=100`, wharf.adminAuth),
      );
      const e = list.find((x) => x.id === id);
      return e && e.status !== 'Running' ? e : undefined;
    });
  };
  const tasksOf = (executionId: number) =>
    call('GET', `/retentions/${policyId}/executions/${executionId}/tasks`, wharf.adminAuth).then((r) =>
      json<Task[]>(r),
    );
  const logOf = async (executionId: number, taskId: number) => {
    const res = await call(
      'GET',
      `/retentions/${policyId}/executions/${executionId}/tasks/${taskId}`,
      wharf.adminAuth,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.text();
  };

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    wharf = await startInProcessWharf(
      { webhooks: { retry_backoff_seconds: 0.2, retry_backoff_max_seconds: 1 } },
      { projects: [PROJECT, 'other'] },
    );
    backends = await wharf.openBackends();
    oci = new OciClient(wharf.url, wharf.adminAuth, wharf.fetch);
    projectId = (
      await json<{ project_id: number }>(await call('GET', `/projects/${PROJECT}`, wharf.adminAuth))
    ).project_id;
    const hook = await call('POST', `/projects/${PROJECT}/webhook/policies`, wharf.adminAuth, {
      name: 'retention',
      event_types: ['TAG_RETENTION'],
      targets: [{ type: 'http', address: `${receiver.url}/hook`, payload_format: 'Default' }],
    });
    expect(hook.status, await hook.text()).toBe(201);
  });

  afterAll(async () => {
    await backends?.close();
    await wharf?.close();
    await receiver?.close();
  });

  it('lists Harbor templates and selectors to signed-in callers only', async () => {
    expect((await call('GET', '/retentions/metadatas', undefined)).status).toBe(401);
    const meta = await json<{ templates: Array<{ rule_template: string }>; tag_selectors: unknown[] }>(
      await call('GET', '/retentions/metadatas', wharf.adminAuth),
    );
    expect(meta.templates.map((t) => t.rule_template)).toEqual([
      'latestPushedK',
      'latestPulledN',
      'nDaysSinceLastPush',
      'nDaysSinceLastPull',
      'always',
    ]);
  });

  it('creates the project policy, links it by retention_id and refuses a second one and bad rules', async () => {
    const created = await call('POST', '/retentions', wharf.adminAuth, policyBody([rule('always', 'none')]));
    expect(created.status, await created.clone().text()).toBe(201);
    policyId = createdId(created);
    expect(created.headers.get('location')).toBe(`/api/v2.0/retentions/${policyId}`);
    const project = await json<{ metadata: Record<string, string> }>(
      await call('GET', `/projects/${PROJECT}`, wharf.adminAuth),
    );
    expect(project.metadata.retention_id).toBe(String(policyId));
    const policy = await json<{ id: number; scope: { ref: number }; rules: Array<{ template: string }> }>(
      await call('GET', `/retentions/${policyId}`, wharf.adminAuth),
    );
    expect(policy).toMatchObject({
      id: policyId,
      algorithm: 'or',
      scope: { level: 'project', ref: projectId },
    });
    expect(policy.rules[0]?.template).toBe('always');

    expect(
      (await call('POST', '/retentions', wharf.adminAuth, policyBody([rule('always', '**')]))).status,
    ).toBe(400);
    const bad = await call(
      'PUT',
      `/retentions/${policyId}`,
      wharf.adminAuth,
      policyBody([rule('latestPushedK', '**')]),
    );
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/latestPushedK is required/);
    const twins = await call(
      'PUT',
      `/retentions/${policyId}`,
      wharf.adminAuth,
      policyBody([rule('always', '**'), rule('always', '**')]),
    );
    expect(twins.status).toBe(409);
    const badCron = await call(
      'PUT',
      `/retentions/${policyId}`,
      wharf.adminAuth,
      policyBody([], 'not a cron'),
    );
    expect(badCron.status).toBe(400);
    expect((await call('GET', `/retentions/${policyId}`, undefined)).status).toBe(401);
    expect((await call('GET', '/retentions/999999', wharf.adminAuth)).status).toBe(404);
  });

  // Per template: old (pushed 10 days ago, pulled 9), mid (5, pulled 1), new (now, never pulled).
  type Age = 'old' | 'mid' | 'new';
  const CASES: Array<{ template: string; params: Record<string, number>; kept: Age[] }> = [
    { template: 'latestPushedK', params: { latestPushedK: 1 }, kept: ['new'] },
    { template: 'latestPulledN', params: { latestPulledN: 1 }, kept: ['mid'] },
    { template: 'nDaysSinceLastPush', params: { nDaysSinceLastPush: 7 }, kept: ['mid', 'new'] },
    { template: 'nDaysSinceLastPull', params: { nDaysSinceLastPull: 3 }, kept: ['mid'] },
    { template: 'always', params: {}, kept: ['mid', 'new', 'old'] },
  ];

  for (const c of CASES) {
    it(`${c.template}: a dry run lists what would go and deletes nothing; a real run deletes exactly that`, async () => {
      const repo = c.template.toLowerCase();
      const digests = {
        old: await pushAged(repo, 'old', 10, 9),
        mid: await pushAged(repo, 'mid', 5, 1),
        new: await pushAged(repo, 'new', 0),
      };
      const gone = (['old', 'mid', 'new'] as Age[]).filter((t) => !c.kept.includes(t));
      await setPolicy([rule(c.template, repo, c.params)]);

      const dry = await run(true);
      expect(dry).toMatchObject({ status: 'Success', trigger: 'MANUAL', dry_run: true });
      const [dryTask] = await tasksOf(dry.id);
      expect(dryTask).toMatchObject({ repository: `${PROJECT}/${repo}`, status: 'Success', total: 3 });
      expect(dryTask?.retained).toBe(c.kept.length);
      const dryLog = await logOf(dry.id, dryTask?.id ?? 0);
      for (const t of gone) expect(dryLog).toMatch(new RegExp(`${digests[t]} \\| ${t} \\|.*\\| DEL`));
      for (const t of c.kept) expect(dryLog).toMatch(new RegExp(`${digests[t]} \\| ${t} \\|.*\\| RETAIN`));
      expect(await tagsOf(repo)).toEqual(['mid', 'new', 'old']);

      const real = await run(false);
      expect(real).toMatchObject({ status: 'Success', dry_run: false });
      expect(await tagsOf(repo)).toEqual([...c.kept].sort());
      for (const t of gone) {
        const res = await oci.request('HEAD', `/v2/${PROJECT}/${repo}/manifests/${digests[t]}`);
        expect(res.status).toBe(404);
      }
    });
  }

  it('label selectors retain only the labelled artifact', async () => {
    const label = await call('POST', '/labels', wharf.adminAuth, { name: 'golden', scope: 'g' });
    expect(label.status, await label.clone().text()).toBe(201);
    const golden = await pushAged('labels', 'golden', 3);
    await pushAged('labels', 'plain', 1);
    const attach = await call(
      'POST',
      `/projects/${PROJECT}/repositories/labels/artifacts/${golden}/labels`,
      wharf.adminAuth,
      { id: createdId(label) },
    );
    expect(attach.status, await attach.text()).toBe(200);
    await setPolicy([
      rule('always', 'labels', {}, { kind: 'label', decoration: 'withLabels', pattern: 'golden' }),
    ]);
    expect((await run(true)).status).toBe('Success');
    expect(await tagsOf('labels')).toEqual(['golden', 'plain']);
    expect((await run(false)).status).toBe('Success');
    expect(await tagsOf('labels')).toEqual(['golden']);
  });

  it('keeps immutable tags, reports them, and does not fail the run', async () => {
    await pushAged('frozen', 'release-1', 5);
    await pushAged('frozen', 'scratch', 4);
    const immutable = await call('POST', `/projects/${PROJECT}/immutabletagrules`, wharf.adminAuth, {
      disabled: false,
      action: 'immutable',
      template: 'immutable_template',
      tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'release-*' }],
      scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: 'frozen' }] },
    });
    expect(immutable.status, await immutable.text()).toBe(201);
    await setPolicy([rule('latestPushedK', 'frozen', { latestPushedK: 0 })]);
    const dry = await run(true);
    const [dryTask] = await tasksOf(dry.id);
    expect(await logOf(dry.id, dryTask?.id ?? 0)).toMatch(/release-1 \|.*\| IMMUTABLE/);
    const real = await run(false);
    expect(real.status).toBe('Success');
    const [task] = await tasksOf(real.id);
    expect(task).toMatchObject({ status: 'Success', total: 2, retained: 1 });
    expect(await tagsOf('frozen')).toEqual(['release-1']);
  });

  it('runs on a schedule (a cron firing every second) until the schedule is removed', async () => {
    await pushAged('scheduled', 'a', 2);
    await pushAged('scheduled', 'b', 1);
    await setPolicy([rule('latestPushedK', 'scheduled', { latestPushedK: 1 })], '* * * * * *');
    const scheduled = await waitFor('a scheduled execution to end', async () => {
      const list = await json<Execution[]>(
        await call('GET', `/retentions/${policyId}/executions`, wharf.adminAuth),
      );
      return list.find((e) => e.trigger === 'SCHEDULE' && e.status !== 'Running');
    });
    expect(scheduled.status).toBe('Success');
    await setPolicy([rule('latestPushedK', 'scheduled', { latestPushedK: 1 })], '');
    expect(await tagsOf('scheduled')).toEqual(['b']);
    const schedules = await json<Array<{ vendor_type: string; vendor_id: number }>>(
      await call('GET', '/schedules?page_size=100', wharf.adminAuth),
    );
    expect(schedules.some((s) => s.vendor_type === 'retention.schedule' && s.vendor_id === policyId)).toBe(
      false,
    );
  });

  it('stops an execution: its open tasks end Stopped and nothing is deleted', async () => {
    await pushAged('stoppable', 'x', 2);
    await pushAged('stoppable', 'y', 1);
    await setPolicy([rule('latestPushedK', 'stoppable', { latestPushedK: 0 })]);
    // Tasks wait in a paused queue, so the execution is surely running when the stop comes.
    const pause = await call('PUT', '/jobservice/queues/retention.task', wharf.adminAuth, {
      action: 'pause',
    });
    expect(pause.status).toBe(200);
    try {
      const res = await call('POST', `/retentions/${policyId}/executions`, wharf.adminAuth, {
        dry_run: false,
      });
      const id = createdId(res);
      const stop = await call('PATCH', `/retentions/${policyId}/executions/${id}`, wharf.adminAuth, {
        action: 'stop',
      });
      expect(stop.status).toBe(200);
      const bad = await call('PATCH', `/retentions/${policyId}/executions/${id}`, wharf.adminAuth, {
        action: 'pause',
      });
      expect(bad.status).toBe(400);
      const list = await json<Execution[]>(
        await call('GET', `/retentions/${policyId}/executions`, wharf.adminAuth),
      );
      expect(list.find((e) => e.id === id)?.status).toBe('Stopped');
      const [task] = await tasksOf(id);
      expect(task).toMatchObject({ status: 'Stopped', status_code: 3 });
    } finally {
      await call('PUT', '/jobservice/queues/retention.task', wharf.adminAuth, { action: 'resume' });
    }
    // Resumed, the stopped task's job does not run: both tags stay.
    const probe = await run(true);
    expect(probe.status).toBe('Success');
    expect(await tagsOf('stoppable')).toEqual(['x', 'y']);
  });

  it('delivers TAG_RETENTION to a webhook receiver with Harbor’s retention payload', async () => {
    const hook = await waitFor('a TAG_RETENTION webhook', async () =>
      receiver.received.find((r) => {
        const body = r.json as {
          type?: string;
          event_data?: { retention?: { deleted_artifact?: unknown[] } };
        };
        return (
          body.type === 'TAG_RETENTION' && (body.event_data?.retention?.deleted_artifact?.length ?? 0) > 0
        );
      }),
    );
    const retention = (hook.json as { event_data: { retention: Record<string, unknown> } }).event_data
      .retention;
    expect(retention).toMatchObject({
      project_name: PROJECT,
      retention_policy_id: policyId,
      result: 'SUCCESS',
    });
    expect(typeof retention.total).toBe('number');
    expect(typeof retention.retained).toBe('number');
    expect(retention.deleted_artifact).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'image', status: 'SUCCESS' })]),
    );
  });

  it("follows Harbor's tag-retention grants: developers may run a policy, guests may not see it", async () => {
    const password = 'Retention-Pass-1';
    for (const [user, role] of [
      ['dev', 2],
      ['guest', 3],
    ] as const) {
      const created = await call('POST', '/users', wharf.adminAuth, {
        username: user,
        password,
        email: `${user}@example.com`,
        realname: user,
      });
      expect(created.status).toBe(201);
      const member = await call('POST', `/projects/${PROJECT}/members`, wharf.adminAuth, {
        role_id: role,
        member_user: { username: user },
      });
      expect(member.status).toBe(201);
    }
    const dev = basicAuth('dev', password);
    const guest = basicAuth('guest', password);
    expect((await call('GET', `/retentions/${policyId}`, dev)).status).toBe(200);
    expect((await call('GET', `/retentions/${policyId}`, guest)).status).toBe(403);
    expect((await call('GET', `/retentions/${policyId}/executions`, guest)).status).toBe(403);
    const byGuest = await call('POST', `/retentions/${policyId}/executions`, guest, { dry_run: true });
    expect(byGuest.status).toBe(403);
    const byDev = await call('POST', `/retentions/${policyId}/executions`, dev, { dry_run: true });
    expect(byDev.status).toBe(201);
  });

  it('deleting the policy removes its executions, its schedule and the retention_id link', async () => {
    const res = await call('DELETE', `/retentions/${policyId}`, wharf.adminAuth);
    expect(res.status).toBe(200);
    expect((await call('GET', `/retentions/${policyId}`, wharf.adminAuth)).status).toBe(404);
    const project = await json<{ metadata: Record<string, string> }>(
      await call('GET', `/projects/${PROJECT}`, wharf.adminAuth),
    );
    expect(project.metadata.retention_id).toBeUndefined();
  });
});
