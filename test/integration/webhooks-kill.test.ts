import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ociOf } from '../helpers/replication-cluster.js';
import { adminApi } from '../helpers/replication.js';
import { startWharf, type WharfHandle } from '../helpers/server.js';
import { waitFor } from '../helpers/poll.js';
import { startWebhookReceiver, validSignature, type WebhookReceiver } from '../helpers/webhook-receiver.js';

// Issue #11 (Done when): an instance is killed (SIGKILL) right after a push committed and before
// its event was consumed (instance A runs with `events.dispatch: false`). Instance B, started on
// the same data, dispatches the event and the webhook for that push arrives: possibly more than
// once, always with the same event id, never missing.

describe.runIf(process.env.WHARF_TEST_DATABASE !== 'postgres')(
  'webhooks when an instance dies after a push',
  () => {
    const handles: WharfHandle[] = [];
    let dataRoot: string | undefined;
    let receiver: WebhookReceiver | undefined;

    afterAll(async () => {
      await Promise.all(handles.map((h) => h.stop()));
      await receiver?.close();
      if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
    }, 60_000);

    it('delivers the webhook of a push whose instance was killed right after the commit', async () => {
      receiver = await startWebhookReceiver();
      dataRoot = await mkdtemp(join(tmpdir(), 'wharf-webhooks-kill-'));
      const dataDir = join(dataRoot, 'data');
      const a = await startWharf({ dataDir, extraConfig: 'events:\n  dispatch: false' });
      handles.push(a);
      const created = await adminApi(a).call('POST', '/projects/test/webhook/policies', {
        name: 'after-kill',
        event_types: ['PUSH_ARTIFACT'],
        targets: [{ type: 'http', address: `${receiver.url}/hook`, payload_format: 'CloudEvents' }],
      });
      expect(created.status).toBe(201);
      const { secret } = (await created.json()) as { secret: string };

      const image = await ociOf(a).pushImage('test/hooked', 'v1');
      await a.kill(); // right after the manifest's 201
      expect(a.exitStatus()?.signal).toBe('SIGKILL');
      expect(receiver.received).toHaveLength(0);

      const b = await startWharf({ dataDir });
      handles.push(b);
      const hook = await waitFor(
        'the webhook of the push made on the killed instance',
        async () =>
          receiver?.received.find(
            (r) =>
              (r.json as { data?: { resources?: Array<{ digest?: string }> } }).data?.resources?.[0]
                ?.digest === image.digest,
          ),
        60_000,
      );
      expect(validSignature(hook, secret)).toBe(true);
      const ids = new Set(receiver.received.map((r) => r.headers['x-wharf-event-id']));
      expect(ids.size).toBe(1);
      expect((hook.json as { id: string }).id).toBe(hook.headers['x-wharf-event-id']);
    }, 240_000);
  },
);
