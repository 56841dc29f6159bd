import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PushedImage } from '../helpers/oci-client.js';
import { digestAt, executionsOf, ociOf, settled, tasksOf, type Api } from '../helpers/replication-cluster.js';
import { adminApi, finished, planningRetried, wharfEndpoint } from '../helpers/replication.js';
import { replicationIdle } from '../helpers/replication-idle.js';
import { closeAll, FAST_RETRIES, startInProcessWharfs } from '../helpers/in-process-cluster.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { waitFor } from '../helpers/poll.js';

// The outage of issue 5, point 6: the destination of an event-based push policy is stopped (a
// clean shutdown of an instance built in the test process: its port refuses connections), 20 small images are pushed to the source meanwhile, the
// destination starts again: all 20 arrive with no manual step within a bounded time, and a manual
// run afterwards finds nothing left to copy.

const IMAGES = 20;

describe('replication after an outage', () => {
  let a: InProcessWharf;
  let b: InProcessWharf;
  let api: Api;
  let after: { copies: number; executions: number; reconciliations: number } | undefined;

  beforeAll(async () => {
    // Retries back off 2 s doubling up to 5 s (the default cap is a minute): the peer's return is
    // seen within seconds however long it was away on a busy machine.
    [a, b] = (await startInProcessWharfs(2, FAST_RETRIES, 'outage')) as [InProcessWharf, InProcessWharf];
    api = adminApi(a);
  }, 120_000);

  afterAll(async () => {
    await closeAll([a, b]);
  }, 60_000);

  it(`stop the destination, push ${IMAGES} images, start it: all arrive with no manual action`, async () => {
    const peer = await api.create('/registries', wharfEndpoint('outage-peer', b));
    const policy = await api.create('/replication/policies', {
      name: 'outage-20',
      dest_registry: { id: peer },
      filters: [{ type: 'name', value: 'ops/down-**' }],
      trigger: { type: 'event_based' },
    });

    // A clean stop (restart() starts it again on the same port, database and storage).
    await b.stop();

    const oci = ociOf(a);
    const images: PushedImage[] = [];
    for (let i = 1; i <= IMAGES; i++) images.push(await oci.pushImage(`ops/down-${i}`, 'v1'));
    // Every push has become its event run, and every run has met the stopped destination and
    // backs off.
    await replicationIdle([a], 60_000, ['replication-event']);
    await planningRetried(api, policy, IMAGES);
    const copiedWhileDown = (await tasksOf(api, policy)).filter((t) => t.status === 'Succeed').length;
    expect(copiedWhileDown).toBe(0);

    await b.restart();
    const upAt = Date.now();
    const missing = new Set(images.map((_, i) => i + 1));
    await waitFor(
      `all ${IMAGES} images at the destination`,
      async () => {
        for (const i of [...missing]) {
          if ((await digestAt(b, `ops/down-${i}`, 'v1')) === images[i - 1]?.digest) missing.delete(i);
        }
        return missing.size === 0 ? true : undefined;
      },
      120_000,
      500,
    ).catch((err: unknown) => {
      throw new Error(
        `${String(err)}; still missing: ${[...missing].map((i) => `ops/down-${i}`).join(', ')}`,
      );
    });
    console.log(
      `outage: all ${IMAGES} images arrived ${Date.now() - upAt} ms after the destination restarted`,
    );

    // Nothing left to do: the policy's runs settle, and a manual run copies nothing.
    await settled(api, policy, 120_000);
    const again = await finished(api, await api.create('/replication/executions', { policy_id: policy }));
    expect(again).toMatchObject({ status: 'Succeed', total: 0 });
    const tasks = await tasksOf(api, policy);
    const copiedOk = new Set(tasks.filter((t) => t.status === 'Succeed').map((t) => t.dst_resource));
    expect(copiedOk.size).toBe(IMAGES);
    const executions = await executionsOf(api, policy);
    // An event run compares its one repository; a reconciliation run (requested by the system,
    // shown with trigger event_based) compares every repository of the policy.
    const reconciliations = executions.filter(
      (e) => e.trigger === 'event_based' && !/^[01] repositor/.test(e.status_text),
    );
    const copies = tasks.filter((t) => t.operation === 'copy').length;
    console.log(
      `outage: ${executions.length} executions, ${reconciliations.length} of them reconciliations ` +
        `(tasks planned, start time: ${reconciliations.map((e) => `${e.total} ${e.start_time.slice(11, 23)}`).join(', ')}), ` +
        `${copies} copy tasks for ${IMAGES} images`,
    );
    after = { copies, executions: executions.length, reconciliations: reconciliations.length };
  }, 300_000);

  // After an outage every event run or task that gets through on a retry asks for a
  // reconciliation of the policy ("the peer answers again"); none may plan again what an open task
  // does already (open-work.ts), so each image is copied about once: a quarter more is allowed.
  // Several reconciliations of one policy may start planning together (the request is
  // deduplicated only until planning starts); planning is serialised per policy under an advisory
  // lock, so each reads the open work the others inserted. Before that lock this test failed in
  // most runs: two reconciliations 31 ms apart planned 19 and 18 copies (39 copy tasks for 20 images).
  // On PostgreSQL (true concurrency) a task that ended between a run's reading of the sides and
  // its plan's commit was in neither and was planned again (30 to 34 copies): the commit now
  // counts the tasks that succeeded since its planning began as taken.
  it('after the outage, each image is copied about once (no duplicate planning)', () => {
    if (!after) throw new Error('the outage test did not run to its end');
    expect(after.copies).toBeGreaterThanOrEqual(IMAGES);
    expect(after.copies).toBeLessThanOrEqual(IMAGES + IMAGES / 4);
  });
});
