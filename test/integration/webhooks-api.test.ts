import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, basicAuth } from '../helpers/api-client.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { eventually } from '../helpers/poll.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

// Issue #11, point 3: Harbor's webhook API on a project (policies CRUD, validation, permissions
// from the role table, executions/tasks/logs in Harbor 2.9+'s shapes, last triggers, supported
// events). Delivery itself is in webhooks-delivery.test.ts.

const PASSWORD = 'Hook-Passw0rd-1';
const ROLES = { pam: 1, dave: 2, gina: 3, mona: 4 } as const;

describe('/api/v2.0/projects/{p}/webhook', () => {
  let wharf: InProcessWharf;
  let receiver: WebhookReceiver;
  let admin: string;
  const call = apiCaller(() => ({ url: wharf.url, fetch: wharf.fetch }));
  const as = (user: keyof typeof ROLES) => basicAuth(user, PASSWORD);
  const policy = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    description: 'test policy',
    event_types: ['PUSH_ARTIFACT'],
    targets: [
      {
        type: 'http',
        address: `${receiver.url}/hook`,
        auth_header: 'Bearer t0ken',
        payload_format: 'Default',
      },
    ],
    enabled: true,
    ...extra,
  });

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    wharf = await startInProcessWharf(
      {
        // 127.0.0.2 stands for a network the operator refused; loopback itself is allowed by default.
        outbound: { deny_networks: ['127.0.0.2/32'] },
        webhooks: { retry_backoff_seconds: 0.2, retry_backoff_max_seconds: 1 },
      },
      { projects: ['hooks'] },
    );
    admin = wharf.adminAuth;
    for (const [user, role] of Object.entries(ROLES)) {
      expect(
        (
          await call('POST', '/users', admin, {
            username: user,
            password: PASSWORD,
            email: `${user}@example.com`,
            realname: user,
          })
        ).status,
      ).toBe(201);
      const added = await call('POST', '/projects/hooks/members', admin, {
        role_id: role,
        member_user: { username: user },
      });
      expect(added.status).toBe(201);
    }
  });
  afterAll(async () => {
    await wharf?.close();
    await receiver?.close();
  });

  it('creates, lists, reads, updates and deletes policies in Harbor shapes', async () => {
    const created = await call('POST', '/projects/hooks/webhook/policies', admin, policy('first'));
    expect(created.status).toBe(201);
    const location = created.headers.get('location') as string;
    expect(location).toMatch(/^\/api\/v2\.0\/projects\/hooks\/webhook\/policies\/\d+$/);
    const { id, secret } = (await created.json()) as { id: number; secret: string };
    expect(secret).toMatch(/^whsec_/);
    expect(location.endsWith(`/${id}`)).toBe(true);

    const one = await call('GET', `/projects/hooks/webhook/policies/${id}`, admin);
    expect(one.status).toBe(200);
    const body = (await one.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      id,
      name: 'first',
      description: 'test policy',
      enabled: true,
      event_types: ['PUSH_ARTIFACT'],
      creator: 'admin',
      targets: [
        {
          type: 'http',
          address: `${receiver.url}/hook`,
          auth_header: 'Bearer t0ken',
          skip_cert_verify: false,
          payload_format: 'Default',
        },
      ],
    });
    expect(typeof body.project_id).toBe('number');
    expect(Date.parse(body.creation_time as string)).not.toBeNaN();
    // The secret is shown once, never in a read.
    expect(JSON.stringify(body)).not.toContain(secret);

    expect((await call('POST', '/projects/hooks/webhook/policies', admin, policy('second'))).status).toBe(
      201,
    );
    const page = await call('GET', '/projects/hooks/webhook/policies?page=1&page_size=1', admin);
    expect(page.status).toBe(200);
    expect(page.headers.get('x-total-count')).toBe('2');
    expect(page.headers.get('link')).toContain('rel="next"');
    expect(((await page.json()) as unknown[]).length).toBe(1);
    const byName = await call('GET', '/projects/hooks/webhook/policies?q=name%3Dsecond', admin);
    expect(((await byName.json()) as Array<{ name: string }>).map((p) => p.name)).toEqual(['second']);

    const renamed = await call('PUT', `/projects/hooks/webhook/policies/${id}`, admin, {
      ...policy('renamed'),
      enabled: false,
      event_types: ['PUSH_ARTIFACT', 'DELETE_ARTIFACT'],
    });
    expect(renamed.status).toBe(200);
    const after = (await (
      await call('GET', `/projects/hooks/webhook/policies/${id}`, admin)
    ).json()) as Record<string, unknown>;
    expect(after).toMatchObject({
      name: 'renamed',
      enabled: false,
      event_types: ['PUSH_ARTIFACT', 'DELETE_ARTIFACT'],
    });

    // Names are unique per project.
    const clash = await call('PUT', `/projects/hooks/webhook/policies/${id}`, admin, policy('second'));
    expect(clash.status).toBe(409);
    expect(((await clash.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('CONFLICT');
    expect((await call('POST', '/projects/hooks/webhook/policies', admin, policy('second'))).status).toBe(
      409,
    );

    expect((await call('DELETE', `/projects/hooks/webhook/policies/${id}`, admin)).status).toBe(200);
    expect((await call('GET', `/projects/hooks/webhook/policies/${id}`, admin)).status).toBe(404);
    expect((await call('DELETE', `/projects/hooks/webhook/policies/${id}`, admin)).status).toBe(404);
  });

  it('refuses invalid policies with 400 in Harbor error shape', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [policy('v1', { event_types: ['PUSH_ARTIFACT', 'NO_SUCH_EVENT'] }), /unknown event type NO_SUCH_EVENT/],
      [policy('v2', { event_types: [] }), /event_types/],
      [policy('v3', { targets: [] }), /targets/],
      [policy('v4', { targets: [{ type: 'http', address: 'ftp://127.0.0.1/x' }] }), /http or https/],
      [policy('v5', { targets: [{ type: 'http', address: 'not a url' }] }), /not a URL/],
      [policy('v6', { targets: [{ type: 'http', address: 'http://127.0.0.2:9/x' }] }), /outbound policy/],
      [policy('v7', { targets: [{ type: 'email', address: `${receiver.url}/x` }] }), /target type/],
      [
        policy('v8', {
          targets: [{ type: 'slack', address: `${receiver.url}/x`, payload_format: 'CloudEvents' }],
        }),
        /payload_format/,
      ],
      [policy('v9', { targets: 'nope' }), /targets/],
      [policy('', {}), /name is required/],
    ];
    for (const [body, message] of cases) {
      const res = await call('POST', '/projects/hooks/webhook/policies', admin, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = ((await res.json()) as { errors: Array<{ code: string; message: string }> }).errors[0];
      expect(error?.code).toBe('BAD_REQUEST');
      expect(error?.message).toMatch(message);
    }
    // An update is checked the same way.
    const created = await call('POST', '/projects/hooks/webhook/policies', admin, policy('valid'));
    const { id } = (await created.json()) as { id: number };
    const bad = await call('PUT', `/projects/hooks/webhook/policies/${id}`, admin, {
      targets: [{ type: 'http', address: 'http://127.0.0.2:9/x' }],
    });
    expect(bad.status).toBe(400);
    expect((await call('GET', `/projects/hooks/webhook/policies/abc`, admin)).status).toBe(400);
    expect((await call('GET', `/projects/nope/webhook/policies`, admin)).status).toBe(404);
    await call('DELETE', `/projects/hooks/webhook/policies/${id}`, admin);
  });

  it('follows the role table: admins manage, maintainers list, developers and guests may not', async () => {
    expect(
      (await call('POST', '/projects/hooks/webhook/policies', as('dave'), policy('by-dev'))).status,
    ).toBe(403);
    expect(
      (await call('POST', '/projects/hooks/webhook/policies', as('mona'), policy('by-maint'))).status,
    ).toBe(403);
    expect((await call('GET', '/projects/hooks/webhook/policies', as('gina'))).status).toBe(403);
    expect((await call('GET', '/projects/hooks/webhook/policies', as('dave'))).status).toBe(403);
    const listed = await call('GET', '/projects/hooks/webhook/policies', as('mona'));
    expect(listed.status).toBe(200);
    // A maintainer lists policies but does not see the receivers' credentials.
    const targets = ((await listed.json()) as Array<{ targets: Array<{ auth_header: string }> }>).flatMap(
      (p) => p.targets,
    );
    expect(targets.length).toBeGreaterThan(0);
    expect(targets.every((t) => t.auth_header === '*****')).toBe(true);
    expect((await call('GET', '/projects/hooks/webhook/policies', undefined)).status).toBe(401);
    const created = await call('POST', '/projects/hooks/webhook/policies', as('pam'), policy('by-admin'));
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    expect((await call('GET', `/projects/hooks/webhook/policies/${id}`, as('pam'))).status).toBe(200);
    expect((await call('DELETE', `/projects/hooks/webhook/policies/${id}`, as('mona'))).status).toBe(403);
    expect((await call('DELETE', `/projects/hooks/webhook/policies/${id}`, as('pam'))).status).toBe(200);
  });

  it('lists supported event types, notify types and formats', async () => {
    const res = await call('GET', '/projects/hooks/webhook/events', admin);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      event_type: [
        'PUSH_ARTIFACT',
        'PULL_ARTIFACT',
        'DELETE_ARTIFACT',
        'REPLICATION',
        'TAG_RETENTION',
        'QUOTA_EXCEED',
        'QUOTA_WARNING',
      ],
      notify_type: ['http', 'slack'],
      payload_formats: [
        { notify_type: 'http', formats: ['Default', 'CloudEvents'] },
        { notify_type: 'slack', formats: ['Default'] },
      ],
    });
    expect((await call('GET', '/projects/hooks/webhook/events', as('gina'))).status).toBe(403);
    // The routes' schemas are in the published OpenAPI document, under Harbor's paths.
    const doc = (await (await call('GET', '/openapi.json', undefined)).json()) as {
      paths: Record<string, unknown>;
    };
    for (const path of [
      '/projects/{project_name_or_id}/webhook/policies',
      '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}',
      '/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks/{task_id}/log',
      '/projects/{project_name_or_id}/webhook/lasttrigger',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
  });

  it('shows executions, tasks, logs and the last trigger of a delivery', async () => {
    const created = await call('POST', '/projects/hooks/webhook/policies', admin, policy('shapes'));
    const { id } = (await created.json()) as { id: number };
    const oci = new OciClient(wharf.url, admin, wharf.fetch);
    const image = await oci.pushImage('hooks/app', 'v1');

    const executions = `/projects/hooks/webhook/policies/${id}/executions`;
    const list = await eventually(
      'a successful webhook execution',
      async () => (await (await call('GET', executions, admin)).json()) as Array<Record<string, unknown>>,
      (items) => items.length === 1 && items[0]?.status === 'Success',
    );
    const execution = list[0] as Record<string, unknown>;
    expect(execution).toMatchObject({
      vendor_type: 'WEBHOOK',
      vendor_id: id,
      status: 'Success',
      trigger: 'EVENT',
      metrics: {
        task_count: 1,
        success_task_count: 1,
        error_task_count: 0,
        pending_task_count: 0,
        running_task_count: 0,
      },
      extra_attrs: { event_type: 'PUSH_ARTIFACT' },
    });
    expect(Date.parse(execution.end_time as string)).not.toBeNaN();
    const listed = await call('GET', `${executions}?page=1&page_size=10`, admin);
    expect(listed.headers.get('x-total-count')).toBe('1');

    const tasksRes = await call('GET', `${executions}/${String(execution.id)}/tasks`, admin);
    expect(tasksRes.status).toBe(200);
    const tasks = (await tasksRes.json()) as Array<Record<string, unknown>>;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      execution_id: execution.id,
      status: 'Success',
      run_count: 1,
      status_message: '',
    });

    const log = await call(
      'GET',
      `${executions}/${String(execution.id)}/tasks/${String(tasks[0]?.id)}/log`,
      admin,
    );
    expect(log.status).toBe(200);
    expect(log.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await log.text()).toMatch(/attempt 1: delivered PUSH_ARTIFACT to .* \(HTTP 200\)/);
    expect((await call('GET', `${executions}/${String(execution.id)}/tasks/999999/log`, admin)).status).toBe(
      404,
    );
    expect((await call('GET', `${executions}/999999/tasks`, admin)).status).toBe(404);

    const hook = receiver.received.find((r) => r.path === '/hook');
    expect(hook?.json).toMatchObject({
      type: 'PUSH_ARTIFACT',
      event_data: { resources: [{ digest: image.digest, tag: 'v1' }] },
    });

    const triggers = (await (
      await call('GET', '/projects/hooks/webhook/lasttrigger', admin)
    ).json()) as Array<Record<string, unknown>>;
    const mine = triggers.find((t) => t.policy_name === 'shapes');
    expect(mine).toMatchObject({ event_type: 'PUSH_ARTIFACT', enabled: true });
    expect(Date.parse(mine?.last_trigger_time as string)).not.toBeNaN();
    // Maintainers list executions; the log (a read) is for project admins.
    expect((await call('GET', executions, as('mona'))).status).toBe(200);
    expect((await call('GET', executions, as('gina'))).status).toBe(403);
  });
});
