import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPgliteDatabase } from '../../src/metadata/pglite-database.js';
import { arrives, executionsOf, ociOf } from '../helpers/replication-cluster.js';
import { adminApi, wharfEndpoint } from '../helpers/replication.js';
import { startWharf, type WharfHandle } from '../helpers/server.js';
import { waitFor } from '../helpers/poll.js';

// A push's events are in the outbox the moment its 201 is sent: instance A runs without a
// dispatcher (`events.dispatch: false`), so nothing has consumed them when it is killed (SIGKILL)
// right after the push. Instance B, started on the same database and storage with dispatch on,
// finds them and the event-based replication of that push still happens.

describe.runIf(process.env.WHARF_TEST_DATABASE !== 'postgres')(
  'events when an instance dies after a push',
  () => {
    const handles: WharfHandle[] = [];
    let dataRoot: string | undefined;

    afterAll(async () => {
      await Promise.all(handles.map((h) => h.stop()));
      if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
    }, 60_000);

    it('replicates a push whose instance was killed right after the commit', async () => {
      dataRoot = await mkdtemp(join(tmpdir(), 'wharf-events-kill-'));
      const dataDir = join(dataRoot, 'data');
      const [dest, a] = await Promise.all([
        startWharf(),
        startWharf({ dataDir, extraConfig: 'events:\n  dispatch: false' }),
      ]);
      handles.push(dest, a);
      const api = adminApi(a);
      const peer = await api.create('/registries', wharfEndpoint('events-kill-dest', dest));
      const policy = await api.create('/replication/policies', {
        name: 'on-push',
        dest_registry: { id: peer },
        filters: [{ type: 'name', value: 'test/after-kill' }],
        trigger: { type: 'event_based' },
      });

      const image = await ociOf(a).pushImage('test/after-kill', 'v1');
      await a.kill(); // right after the manifest's 201
      expect(a.exitStatus()?.signal).toBe('SIGKILL');
      // The push's events were committed with it and nobody has consumed them.
      const outbox = await openPgliteDatabase(join(dataDir, 'pg'));
      const events = await outbox
        .query<{ type: string; dispatched: boolean }>(
          `SELECT type, dispatched_at IS NOT NULL AS dispatched FROM events
         WHERE data->>'repository' = 'test/after-kill' ORDER BY sequence`,
        )
        .finally(() => outbox.close());
      expect(events.map((e) => e.type)).toContain('artifact.pushed');
      expect(events.every((e) => !e.dispatched)).toBe(true);
      const b = await startWharf({ dataDir });
      handles.push(b);
      const bApi = adminApi(b);
      await arrives(dest, 'test/after-kill', 'v1', image.digest, 60_000);
      const executions = await waitFor('the event-based execution on B', async () => {
        const list = await executionsOf(bApi, policy);
        return list.length > 0 ? list : undefined;
      });
      expect(executions.map((e) => e.trigger)).toEqual(['event_based']);
    }, 240_000);
  },
);
