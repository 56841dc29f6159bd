import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller } from '../helpers/api-client.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient, type PushedImage } from '../helpers/oci-client.js';
import { eventually, waitFor } from '../helpers/poll.js';
import { selfSignedLoopbackCertificate } from '../helpers/tls.js';
import {
  startWebhookReceiver,
  validSignature,
  type ReceivedHook,
  type WebhookReceiver,
} from '../helpers/webhook-receiver.js';

// Issue #11, point 3 (Done when): every event type built so far (PUSH_ARTIFACT, PULL_ARTIFACT,
// DELETE_ARTIFACT, REPLICATION) reaches a real receiver on loopback in Harbor's Default JSON and
// in CloudEvents 1.0, signed (HMAC-SHA256 of the exact body, verified here), with the event id as
// idempotency key and the policy's auth_header; a slack-type policy posts its message; https
// targets honour skip_cert_verify.

const ALL_TYPES = ['PUSH_ARTIFACT', 'PULL_ARTIFACT', 'DELETE_ARTIFACT', 'REPLICATION'];

describe('webhook delivery', () => {
  let wharf: InProcessWharf;
  let receiver: WebhookReceiver;
  let tlsReceiver: WebhookReceiver;
  let certDir: string;
  let projectId: number;
  const secrets = new Map<string, string>();
  const ids = new Map<string, number>();
  const call = apiCaller(() => ({ url: wharf.url, fetch: wharf.fetch }));
  let image: PushedImage;

  const createPolicy = async (name: string, eventTypes: string[], target: Record<string, unknown>) => {
    const res = await call('POST', '/projects/deliver/webhook/policies', wharf.adminAuth, {
      name,
      event_types: eventTypes,
      targets: [target],
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const { id, secret } = (await res.json()) as { id: number; secret: string };
    secrets.set(name, secret);
    ids.set(name, id);
  };
  const hooksAt = (path: string) => receiver.received.filter((r) => r.path === path);
  const defaultOf = (type: string) =>
    hooksAt('/default').find((h) => (h.json as { type?: string }).type === type);
  const cloudOf = (type: string) =>
    hooksAt('/cloudevents').find((h) => (h.json as { type?: string }).type === type);

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    certDir = await mkdtemp(join(tmpdir(), 'wharf-hook-tls-'));
    const cert = await selfSignedLoopbackCertificate(certDir);
    tlsReceiver = await startWebhookReceiver({ key: cert.key, cert: cert.cert });
    wharf = await startInProcessWharf(
      { webhooks: { retry_backoff_seconds: 0.2, retry_backoff_max_seconds: 1 } },
      { projects: ['deliver', 'mirror'] },
    );
    const project = (await (await call('GET', '/projects/deliver', wharf.adminAuth)).json()) as {
      project_id: number;
    };
    projectId = project.project_id;
    await createPolicy('default', ALL_TYPES, {
      type: 'http',
      address: `${receiver.url}/default`,
      auth_header: 'Bearer default-token',
      payload_format: 'Default',
    });
    await createPolicy('cloudevents', ALL_TYPES, {
      type: 'http',
      address: `${receiver.url}/cloudevents`,
      auth_header: 'Bearer ce-token',
      payload_format: 'CloudEvents',
    });
    await createPolicy('slack', ['PUSH_ARTIFACT'], { type: 'slack', address: `${receiver.url}/slack` });
    await createPolicy('tls-skip', ['PUSH_ARTIFACT'], {
      type: 'http',
      address: `${tlsReceiver.url}/skip`,
      skip_cert_verify: true,
    });
    await createPolicy('tls-verify', ['PUSH_ARTIFACT'], {
      type: 'http',
      address: `${tlsReceiver.url}/verify`,
    });
    const oci = new OciClient(wharf.url, wharf.adminAuth, wharf.fetch);
    image = await oci.pushImage('deliver/app', 'v1');
    const pulled = await oci.request('GET', '/v2/deliver/app/manifests/v1', {
      headers: { accept: image.mediaType },
    });
    expect(pulled.status).toBe(200);
    await pulled.arrayBuffer();
    await waitFor(
      'the pull to reach both receivers',
      async () => defaultOf('PULL_ARTIFACT') && cloudOf('harbor.artifact.pulled'),
    );
    const deleted = await oci.request('DELETE', `/v2/deliver/app/manifests/${image.digest}`);
    expect(deleted.status).toBe(202);
    await waitFor(
      'the push, pull and delete at both receivers',
      async () =>
        ['PUSH_ARTIFACT', 'PULL_ARTIFACT', 'DELETE_ARTIFACT'].every((t) => defaultOf(t)) &&
        ['pushed', 'pulled', 'deleted'].every((t) => cloudOf(`harbor.artifact.${t}`)),
    );
  });
  afterAll(async () => {
    await wharf?.close();
    await receiver?.close();
    await tlsReceiver?.close();
    if (certDir) await rm(certDir, { recursive: true, force: true });
  });

  it('sends every artifact event in Harbor Default JSON, signed, with auth_header and event id', () => {
    for (const [type, tag] of [
      ['PUSH_ARTIFACT', 'v1'],
      ['PULL_ARTIFACT', 'v1'],
      ['DELETE_ARTIFACT', 'v1'],
    ] as const) {
      const hook = defaultOf(type) as ReceivedHook;
      expect(validSignature(hook, secrets.get('default') as string), `${type} signature`).toBe(true);
      expect(validSignature(hook, secrets.get('cloudevents') as string)).toBe(false);
      expect(hook.headers.authorization).toBe('Bearer default-token');
      expect(hook.headers['content-type']).toBe('application/json');
      expect(hook.headers['x-wharf-event-type']).toBe(type);
      expect(hook.headers['x-wharf-event-id']).toMatch(/^[0-9a-f-]{36}$/);
      const body = hook.json as Record<string, unknown>;
      expect(body).toMatchObject({
        type,
        operator: 'admin',
        event_data: {
          resources: [{ digest: image.digest, tag, resource_url: `${wharf.host}/deliver/app:${tag}` }],
          repository: {
            name: 'app',
            namespace: 'deliver',
            repo_full_name: 'deliver/app',
            repo_type: 'private',
          },
        },
      });
      expect(typeof body.occur_at).toBe('number');
    }
  });

  it('sends the same events as CloudEvents 1.0 (structured), id = the event id of the Default delivery', () => {
    for (const [type, ceType] of [
      ['PUSH_ARTIFACT', 'harbor.artifact.pushed'],
      ['PULL_ARTIFACT', 'harbor.artifact.pulled'],
      ['DELETE_ARTIFACT', 'harbor.artifact.deleted'],
    ] as const) {
      const hook = cloudOf(ceType) as ReceivedHook;
      expect(validSignature(hook, secrets.get('cloudevents') as string), `${type} signature`).toBe(true);
      expect(hook.headers.authorization).toBe('Bearer ce-token');
      expect(hook.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
      const ce = hook.json as Record<string, unknown>;
      expect(ce).toMatchObject({
        specversion: '1.0',
        type: ceType,
        source: `/projects/${projectId}/webhook/policies/${ids.get('cloudevents')}`,
        datacontenttype: 'application/json',
        operator: 'admin',
        data: { resources: [{ digest: image.digest }], repository: { repo_full_name: 'deliver/app' } },
      });
      // One event, one id: the same in both formats and in the idempotency header.
      expect(ce.id).toBe(hook.headers['x-wharf-event-id']);
      expect(ce.id).toBe((defaultOf(type) as ReceivedHook).headers['x-wharf-event-id']);
      expect(Date.parse(ce.time as string)).not.toBeNaN();
    }
  });

  it('posts a Slack message for a slack-type policy', async () => {
    const hook = await waitFor('the slack message', async () => hooksAt('/slack')[0]);
    expect(validSignature(hook, secrets.get('slack') as string)).toBe(true);
    const body = hook.json as {
      text: string;
      blocks: Array<{ type: string; text: { type: string; text: string } }>;
    };
    expect(body.text).toContain('PUSH_ARTIFACT');
    expect(body.text).toContain(`${wharf.host}/deliver/app:v1`);
    expect(body.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
  });

  it('honours skip_cert_verify: a self-signed receiver gets the hook only when asked to skip', async () => {
    await waitFor('the hook at the self-signed receiver', async () =>
      tlsReceiver.received.find((r) => r.path === '/skip'),
    );
    const executions = `/projects/deliver/webhook/policies/${ids.get('tls-verify')}/executions`;
    const [execution] = (await (await call('GET', executions, wharf.adminAuth)).json()) as Array<{
      id: number;
    }>;
    const task = await eventually(
      'the verifying delivery to fail on the certificate',
      async () =>
        (
          (await (
            await call('GET', `${executions}/${execution?.id}/tasks`, wharf.adminAuth)
          ).json()) as Array<{
            status: string;
            status_message: string;
            run_count: number;
          }>
        )[0],
      (t) => t !== undefined && t.run_count >= 1 && /certificate/i.test(t.status_message),
    );
    expect(task?.status).toBe('Running');
    expect(tlsReceiver.received.some((r) => r.path === '/verify')).toBe(false);
  });

  it('sends REPLICATION when a replication execution ends', async () => {
    const admin = wharf.adminAuth;
    const endpoint = await call('POST', '/registries', admin, {
      name: 'self',
      url: wharf.url,
      type: 'harbor',
      insecure: true,
      credential: { type: 'basic', access_key: wharf.adminUser, access_secret: wharf.adminPassword },
    });
    expect(endpoint.status, await endpoint.clone().text()).toBe(201);
    const registryId = Number(endpoint.headers.get('location')?.split('/').pop());
    const oci = new OciClient(wharf.url, admin, wharf.fetch);
    await oci.pushImage('deliver/rep', 'r1');
    const policy = await call('POST', '/replication/policies', admin, {
      name: 'to-mirror',
      dest_registry: { id: registryId },
      dest_namespace: 'mirror',
      filters: [{ type: 'name', value: 'deliver/rep' }],
    });
    expect(policy.status, await policy.clone().text()).toBe(201);
    const policyId = Number(policy.headers.get('location')?.split('/').pop());
    expect((await call('POST', '/replication/executions', admin, { policy_id: policyId })).status).toBe(201);

    const hook = await waitFor('the REPLICATION hook', async () => defaultOf('REPLICATION'), 60_000);
    expect(validSignature(hook, secrets.get('default') as string)).toBe(true);
    expect(hook.json).toMatchObject({
      type: 'REPLICATION',
      operator: 'replication',
      event_data: {
        replication: {
          job_status: 'Succeed',
          policy_name: 'to-mirror',
          trigger_type: 'manual',
          src_resource: { registry_name: 'Local', namespace: 'deliver' },
          dest_resource: { registry_name: 'self', registry_type: 'harbor' },
          repositories: ['deliver/rep'],
          succeeded_count: 1,
          failed_count: 0,
        },
      },
    });
    const ce = await waitFor('the REPLICATION CloudEvent', async () =>
      cloudOf('harbor.replication.status.changed'),
    );
    expect(validSignature(ce, secrets.get('cloudevents') as string)).toBe(true);
    expect((ce.json as { id: string }).id).toBe(hook.headers['x-wharf-event-id']);
  });

  it('sends REPLICATION with job_status Failed when a run fails before it has tasks', async () => {
    const admin = wharf.adminAuth;
    // An endpoint whose account loses its password: planning is refused (401), which no retry fixes.
    const user = await call('POST', '/users', admin, { username: 'courier', password: 'Courier-Passw0rd' });
    expect(user.status, await user.clone().text()).toBe(201);
    const userId = Number(user.headers.get('location')?.split('/').pop());
    const endpoint = await call('POST', '/registries', admin, {
      name: 'self-as-courier',
      url: wharf.url,
      type: 'harbor',
      insecure: true,
      credential: { type: 'basic', access_key: 'courier', access_secret: 'Courier-Passw0rd' },
    });
    expect(endpoint.status, await endpoint.clone().text()).toBe(201);
    const registryId = Number(endpoint.headers.get('location')?.split('/').pop());
    const reset = await call('PUT', `/users/${userId}/password`, admin, { new_password: 'Other-Passw0rd' });
    expect(reset.status, await reset.clone().text()).toBe(200);
    const policy = await call('POST', '/replication/policies', admin, {
      name: 'refused',
      dest_registry: { id: registryId },
      filters: [{ type: 'name', value: 'deliver/**' }],
    });
    expect(policy.status, await policy.clone().text()).toBe(201);
    const policyId = Number(policy.headers.get('location')?.split('/').pop());
    expect((await call('POST', '/replication/executions', admin, { policy_id: policyId })).status).toBe(201);

    const failed = (h: ReceivedHook) =>
      (h.json as { event_data?: { replication?: { policy_name?: string } } }).event_data?.replication
        ?.policy_name === 'refused';
    const hook = await waitFor('the failed REPLICATION hook', async () =>
      hooksAt('/default').find((h) => (h.json as { type?: string }).type === 'REPLICATION' && failed(h)),
    );
    expect(validSignature(hook, secrets.get('default') as string)).toBe(true);
    expect(hook.json).toMatchObject({
      type: 'REPLICATION',
      event_data: {
        replication: { job_status: 'Failed', policy_name: 'refused', succeeded_count: 0, failed_count: 0 },
      },
    });
  });
});
