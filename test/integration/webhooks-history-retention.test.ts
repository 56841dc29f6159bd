import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller } from '../helpers/api-client.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { waitFor } from '../helpers/poll.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

// A policy keeps its newest webhooks.keep_executions ended executions (with tasks and logs):
// the delivery that ends one deletes the older ones, so the history does not grow for ever.

describe('webhook execution history', () => {
  let wharf: InProcessWharf;
  let receiver: WebhookReceiver;
  const call = apiCaller(() => ({ url: wharf.url, fetch: wharf.fetch }));

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    wharf = await startInProcessWharf({ webhooks: { keep_executions: 2 } }, { projects: ['kept'] });
  });

  afterAll(async () => {
    await wharf?.close();
    await receiver?.close();
  });

  it('keeps the newest keep_executions ended executions of a policy', async () => {
    const created = await call('POST', '/projects/kept/webhook/policies', wharf.adminAuth, {
      name: 'pushes',
      event_types: ['PUSH_ARTIFACT'],
      targets: [{ type: 'http', address: `${receiver.url}/hook` }],
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const { id } = (await created.json()) as { id: number };
    const oci = new OciClient(wharf.url, wharf.adminAuth, wharf.fetch);
    for (const tag of ['t1', 't2', 't3', 't4']) await oci.pushImage('kept/app', tag);

    await waitFor('four deliveries', async () => (receiver.received.length >= 4 ? true : undefined));
    const executions = await waitFor('the history trimmed to two', async () => {
      const res = await call('GET', `/projects/kept/webhook/policies/${id}/executions`, wharf.adminAuth);
      const list = (await res.json()) as Array<{ id: number; status: string }>;
      return list.length === 2 && list.every((e) => e.status === 'Success') ? list : undefined;
    });
    // The two left are the newest: their events are the last two pushes.
    const tasks = await Promise.all(
      executions.map(async (e) => {
        const res = await call(
          'GET',
          `/projects/kept/webhook/policies/${id}/executions/${e.id}/tasks`,
          wharf.adminAuth,
        );
        return (await res.json()) as unknown[];
      }),
    );
    expect(tasks.map((t) => t.length)).toEqual([1, 1]);
    const tagsDelivered = receiver.received.map(
      (h) => (h.json as { event_data: { resources: Array<{ tag: string }> } }).event_data.resources[0]?.tag,
    );
    expect(tagsDelivered).toEqual(['t1', 't2', 't3', 't4']);
    const all = await call(
      'GET',
      `/projects/kept/webhook/policies/${id}/executions?page_size=100`,
      wharf.adminAuth,
    );
    expect(all.headers.get('x-total-count')).toBe('2');
  });
});
