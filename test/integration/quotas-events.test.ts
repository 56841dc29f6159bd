import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGcToCompletion } from '../helpers/gc-api.js';
import { closeAll, startInProcessWharfs } from '../helpers/in-process-cluster.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import {
  digestOf,
  imageManifest,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  OciClient,
} from '../helpers/oci-client.js';
import { waitFor } from '../helpers/poll.js';
import { adminApi, finished, wharfEndpoint } from '../helpers/replication.js';
import { adminAuth } from '../helpers/server.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

// Issue #12, point 2: quota usage stays exact through garbage collection; QUOTA_WARNING (usage
// reaching 85% of the limit) and QUOTA_EXCEED (a refused write) reach a webhook receiver in
// Harbor's payload; replication into a full project fails its task with the quota's reason.

interface Hook {
  type: string;
  operator: string;
  event_data: {
    repository: { repo_full_name: string; namespace: string; name: string };
    custom_attributes: { Details: string };
    resources?: Array<{ digest: string; tag: string }>;
  };
}

describe('quota events, GC and replication', () => {
  let a: InProcessWharf; // the registry under test
  let b: InProcessWharf; // replication's source
  let receiver: WebhookReceiver;
  let oci: OciClient;

  const call = (method: string, path: string, body?: unknown) =>
    a.call(method, `/api/v2.0${path}`, a.adminAuth, body);
  const quotaOf = async (project: string) => {
    const id = ((await call('GET', `/projects/${project}`)).body as { project_id: number }).project_id;
    const list = (await call('GET', `/quotas?reference_id=${id}`)).body as Array<{
      id: number;
      used: { storage: number };
    }>;
    const quota = list[0];
    if (!quota) throw new Error(`no quota for ${project}`);
    return quota;
  };
  const setLimit = async (project: string, storage: number) => {
    const res = await call('PUT', `/quotas/${(await quotaOf(project)).id}`, { hard: { storage } });
    expect(res.status).toBe(200);
  };
  const hooksOf = (type: string) =>
    receiver.received.map((h) => h.json as Hook).filter((h) => h.type === type);

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    [a, b] = (await startInProcessWharfs(2, { gc: { grace_period_minutes: 0 } }, 'quota')) as [
      InProcessWharf,
      InProcessWharf,
    ];
    for (const project of ['hooked', 'collected', 'mirror']) {
      expect((await call('POST', '/projects', { project_name: project })).status).toBe(201);
    }
    const policy = await call('POST', '/projects/hooked/webhook/policies', {
      name: 'quota',
      event_types: ['QUOTA_WARNING', 'QUOTA_EXCEED'],
      targets: [{ type: 'http', address: `${receiver.url}/hook`, payload_format: 'Default' }],
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    oci = new OciClient(a.url, a.adminAuth, a.fetch);
  }, 120_000);

  afterAll(async () => {
    await closeAll([a, b]);
    await receiver?.close();
  });

  it('delivers QUOTA_WARNING once usage reaches 85% and QUOTA_EXCEED for a refused write', async () => {
    await setLimit('hooked', 10_000);
    await oci.pushBlob('hooked/app', randomBytes(5000));
    await oci.pushBlob('hooked/app', randomBytes(3600)); // 8,600 of 10,000: past 85%
    await oci.pushBlob('hooked/app', randomBytes(100)); // still past it: no second warning
    const tooBig = randomBytes(2000);
    const refused = await oci.request('POST', `/v2/hooked/app/blobs/uploads/?digest=${digestOf(tooBig)}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: tooBig,
    });
    expect(refused.status).toBe(403);

    const exceeded = await waitFor('a QUOTA_EXCEED webhook', async () => hooksOf('QUOTA_EXCEED')[0]);
    expect(exceeded.operator).toBe('admin');
    expect(exceeded.event_data.repository).toMatchObject({
      repo_full_name: 'hooked/app',
      namespace: 'hooked',
    });
    expect(exceeded.event_data.custom_attributes.Details).toMatch(
      /^Quota exceeded when processing the request/,
    );
    const warning = await waitFor('a QUOTA_WARNING webhook', async () => hooksOf('QUOTA_WARNING')[0]);
    expect(warning.event_data.custom_attributes.Details).toBe(
      'quota usage reach 85%: resource storage used 8.398KiB of 9.766KiB',
    );
    const events = await a.server.db.query<{ type: string }>(
      `SELECT type FROM events WHERE type LIKE 'quota.%' AND project_name = 'hooked' ORDER BY sequence`,
    );
    expect(events.map((e) => e.type)).toEqual(['quota.warning', 'quota.exceeded']);
  });

  it('names the manifest and its pusher in the events of a refused manifest PUT', async () => {
    await setLimit('hooked', -1);
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBytes(600);
    const descriptor = (mediaType: string, bytes: Buffer, digest: string) => ({
      mediaType,
      digest,
      size: bytes.length,
    });
    const manifest = imageManifest({
      mediaType: OCI_MANIFEST,
      config: descriptor(OCI_CONFIG, config, await oci.pushBlob('hooked/web', config)),
      layers: [descriptor(OCI_LAYER, layer, await oci.pushBlob('hooked/web', layer))],
    });
    // Full to the byte: the manifest's own bytes do not fit.
    await setLimit('hooked', (await quotaOf('hooked')).used.storage);
    const put = await oci.request('PUT', '/v2/hooked/web/manifests/v1', {
      headers: { 'content-type': OCI_MANIFEST },
      body: manifest,
    });
    expect(put.status).toBe(403);
    const withManifest = await waitFor('a QUOTA_EXCEED webhook naming a manifest', async () =>
      hooksOf('QUOTA_EXCEED').find((h) => h.event_data.resources?.[0]?.tag === 'v1'),
    );
    expect(withManifest.operator).toBe('admin');
    expect(withManifest.event_data.repository.repo_full_name).toBe('hooked/web');
    expect(withManifest.event_data.resources?.[0]?.digest).toBe(digestOf(manifest));
  });

  it('keeps usage exact through artifact deletion and garbage collection', async () => {
    const image = await oci.pushImage('collected/app', 'v1', { layers: 2 });
    const shared = await oci.pushImage('collected/keep', 'v1', { layers: 1 });
    const imageBytes =
      image.bytes.length + image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
    const keptBytes = shared.bytes.length + shared.config.size + (shared.layers[0]?.size ?? 0);
    expect((await quotaOf('collected')).used.storage).toBe(imageBytes + keptBytes);

    const deleted = await call('DELETE', `/projects/collected/repositories/app/artifacts/${image.digest}`);
    expect(deleted.status).toBe(200);
    expect((await quotaOf('collected')).used.storage).toBe(imageBytes + keptBytes - image.bytes.length);
    await runGcToCompletion({ url: a.url, authorization: a.adminAuth }, { delete_untagged: false });
    expect((await quotaOf('collected')).used.storage).toBe(keptBytes);
  });

  it('fails a replication task into a full project with the quota as its reason', async () => {
    const source = new OciClient(b.url, adminAuth(b), b.fetch);
    await source.pushImage('test/big', 'v1', { layers: 2 });
    await setLimit('mirror', 100);
    const api = adminApi(a);
    const peer = await api.create('/registries', wharfEndpoint('quota-source', b));
    const policy = await api.create('/replication/policies', {
      name: 'into-full',
      src_registry: { id: peer },
      dest_namespace: 'mirror',
      filters: [{ type: 'name', value: 'test/big' }],
    });
    const started = await api.call('POST', '/replication/executions', { policy_id: policy });
    expect(started.status).toBe(201);
    const execution = await finished(api, Number(started.headers.get('location')?.split('/').pop()));
    expect(execution.status).toBe('Failed');
    const [task] = await api.tasks(execution.id);
    expect(task?.status).toBe('Failed');
    const log = await api.call('GET', `/replication/executions/${execution.id}/tasks/${task?.id}/log`);
    expect(await log.text()).toMatch(/Quota exceeded/);
    expect((await quotaOf('mirror')).used.storage).toBeLessThanOrEqual(100);
  });
});
