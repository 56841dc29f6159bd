import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller } from '../helpers/api-client.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';
import { waitFor } from '../helpers/poll.js';
import { startWebhookReceiver, validSignature, type WebhookReceiver } from '../helpers/webhook-receiver.js';

// Issue #11 (Done when): the receiver is down (refusing connections) for two minutes while
// pushes go on in two repositories, then comes back: every event is delivered, and per
// repository in push order (a failing delivery holds back the later ones of its repository,
// retried with backoff). This is the suite's one long webhook test, by nature.

const DOWN_MS = 120_000;
const TAGS = ['t1', 't2', 't3', 't4'];
const REPOS = ['outage/alpha', 'outage/beta'];

interface TaskJson {
  status: string;
  run_count: number;
  status_message: string;
}

describe('webhook delivery across a receiver outage', () => {
  let wharf: InProcessWharf;
  let receiver: WebhookReceiver;
  const call = apiCaller(() => ({ url: wharf.url, fetch: wharf.fetch }));

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    wharf = await startInProcessWharf(
      { webhooks: { retry_backoff_seconds: 1, retry_backoff_max_seconds: 5 } },
      { projects: ['outage'] },
    );
  });
  afterAll(async () => {
    await wharf?.close();
    await receiver?.close();
  });

  it(
    'delivers every event, in push order per repository, once the receiver is back',
    async () => {
      const created = await call('POST', '/projects/outage/webhook/policies', wharf.adminAuth, {
        name: 'outage',
        event_types: ['PUSH_ARTIFACT'],
        targets: [{ type: 'http', address: `${receiver.url}/hook` }],
      });
      expect(created.status).toBe(201);
      const { id, secret } = (await created.json()) as { id: number; secret: string };

      await receiver.down();
      const downSince = Date.now();
      const oci = new OciClient(wharf.url, wharf.adminAuth, wharf.fetch);
      const pushed = new Map<string, string[]>(REPOS.map((r) => [r, []]));
      for (const tag of TAGS) {
        for (const repo of REPOS) {
          await oci.pushImage(repo, tag);
          pushed.get(repo)?.push(tag);
        }
      }

      const executions = `/projects/outage/webhook/policies/${id}/executions`;
      const tasksOf = async () => {
        const list = (await (
          await call('GET', `${executions}?page_size=100`, wharf.adminAuth)
        ).json()) as Array<{
          id: number;
        }>;
        const tasks: TaskJson[] = [];
        for (const e of list) {
          const res = await call('GET', `${executions}/${e.id}/tasks`, wharf.adminAuth);
          tasks.push(...((await res.json()) as TaskJson[]));
        }
        return tasks;
      };
      // Two minutes down, waited for as a condition: the outage has lasted that long and the head
      // of each repository has been tried again and again while the rest wait behind it.
      const during = await waitFor(
        'two minutes of failed deliveries',
        async () => {
          const tasks = await tasksOf();
          const retried = tasks.filter((t) => t.status === 'Running' && t.run_count >= 3);
          return Date.now() - downSince >= DOWN_MS &&
            tasks.length === TAGS.length * REPOS.length &&
            retried.length === REPOS.length
            ? tasks
            : undefined;
        },
        DOWN_MS + 60_000,
        1_000,
      );
      expect(during.filter((t) => t.status === 'Pending')).toHaveLength((TAGS.length - 1) * REPOS.length);
      expect(during.find((t) => t.status === 'Running')?.status_message).toMatch(/ECONNREFUSED|refused/i);
      expect(receiver.received).toHaveLength(0);

      await receiver.up();
      await waitFor(
        'every event at the receiver',
        async () => receiver.received.length >= TAGS.length * REPOS.length,
        60_000,
        250,
      );
      for (const repo of REPOS) {
        const tags = receiver.received
          .map(
            (r) =>
              r.json as {
                event_data: { repository: { repo_full_name: string }; resources: Array<{ tag: string }> };
              },
          )
          .filter((b) => b.event_data.repository.repo_full_name === repo)
          .map((b) => b.event_data.resources[0]?.tag);
        expect(tags, repo).toEqual(pushed.get(repo));
      }
      expect(receiver.received.every((r) => validSignature(r, secret))).toBe(true);
      expect(new Set(receiver.received.map((r) => r.headers['x-wharf-event-id'])).size).toBe(
        TAGS.length * REPOS.length,
      );
      // A task is marked Success after the receiver answered: wait for the marks, not only the bodies.
      await waitFor(
        'every task marked Success',
        async () => (await tasksOf()).every((t) => t.status === 'Success'),
        30_000,
        250,
      );
      const after = await tasksOf();
      expect(after.every((t) => t.status === 'Success')).toBe(true);
    },
    DOWN_MS + 180_000,
  );
});
