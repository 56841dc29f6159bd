import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  arrives,
  instanceRunning,
  ociOf,
  pushLargeImage,
  startSharedPair,
  startWharfs,
  type SharedPair,
} from '../helpers/replication-cluster.js';
import { adminApi, finished, wharfEndpoint, type TaskJson } from '../helpers/replication.js';
import type { WharfHandle } from '../helpers/server.js';
import { waitFor } from '../helpers/poll.js';

// An instance holding a replication job is killed (SIGKILL) in the middle of a copy: the other
// instance of the cluster (two Wharf instances on ONE real PostgreSQL, one storage directory, the
// same token signing key and encryption key) takes the job over once its lease expires and
// finishes it; the destination (a third, independent Wharf) ends with the image. The copy is
// slowed down with the policy's speed limit so that the kill lands mid-copy.

describe.runIf(process.env.WHARF_TEST_DATABASE !== 'postgres')('replication when an instance dies', () => {
  let pair: SharedPair;
  let dest: WharfHandle;

  beforeAll(async () => {
    [pair, [dest]] = (await Promise.all([startSharedPair(), startWharfs(1)])) as [SharedPair, [WharfHandle]];
  }, 180_000);

  afterAll(async () => {
    await Promise.all([pair?.stop(), dest?.stop()]);
  }, 60_000);

  it('another instance finishes the job of a killed one, after its lease expires', async () => {
    const [first, second] = pair.instances as [WharfHandle, WharfHandle];
    const api = adminApi(first);
    const image = await pushLargeImage(ociOf(first), 'test/killed', 'v1', 1024 * 1024);
    const peer = await api.create('/registries', wharfEndpoint('kill-dest', dest));
    const policy = await api.create('/replication/policies', {
      name: 'kill-mid-copy',
      dest_registry: { id: peer },
      filters: [{ type: 'name', value: 'test/killed' }],
      speed: 64, // KB/s: 1 MiB takes 16 s, time enough to kill the instance mid-copy
    });
    const id = await api.create('/replication/executions', { policy_id: policy });
    const { task, runner } = await waitFor(
      'the copy task to run on an instance',
      async () => {
        const running = (await api.tasks(id)).find((t) => t.status === 'InProgress');
        const name = running && (await instanceRunning(api, running.job_id));
        return running && name ? { task: running, runner: name } : undefined;
      },
      30_000,
      100,
    );
    const victim = pair.named(runner);
    const survivor = victim === first ? second : first;
    console.log(`kill: the copy runs on ${runner}; killing it`);
    // Mid-copy: the small config is copied (its line is in the job's log) while the layer, sent
    // alongside it, has most of its 16 s to go.
    await waitFor(
      'the copy to have a blob done',
      async () => {
        const log = await api.call('GET', `/jobservice/jobs/${task.job_id}/log`);
        return log.status === 200 && /blob \S+: copied \(/.test(await log.text());
      },
      30_000,
      100,
    );
    expect((await api.tasks(id)).find((t) => t.id === task.id)?.status).toBe('InProgress');
    const killedAt = Date.now();
    await victim.kill();
    expect(victim.exitStatus()?.signal).toBe('SIGKILL');

    const survivorApi = adminApi(survivor);
    const survivorName = pair.names[pair.instances.indexOf(survivor)];
    await waitFor(
      `the task's job to run on ${survivorName}`,
      async () => ((await instanceRunning(survivorApi, task.job_id)) === survivorName ? true : undefined),
      60_000,
      250,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nsurvivor's log:\n${survivor.output()}`);
    });
    console.log(`kill: the surviving instance took the job over ${Date.now() - killedAt} ms after the kill`);

    const done = await finished(survivorApi, id, 90_000);
    console.log(`kill: the execution ended ${Date.now() - killedAt} ms after the kill`);
    expect(done).toMatchObject({ status: 'Succeed', total: 1, succeed: 1 });
    const tasks: TaskJson[] = await survivorApi.tasks(id);
    expect(tasks.map((t) => [t.dst_resource, t.status])).toEqual([['test/killed:v1', 'Succeed']]);
    await arrives(dest, 'test/killed', 'v1', image.digest, 5_000);
    const log = await survivorApi.call('GET', `/jobservice/jobs/${task.job_id}/log`);
    expect(log.status).toBe(200);
    const text = await log.text();
    console.log(`kill: the job's log:\n${text}`);
    // The instance that lost the lease is named as it names itself.
    expect(text).toMatch(/lease of pair-\d expired/);
    // Retries a deadline ends are counted plainly (no "of 1000000"), on the instance's name.
    expect(text.match(/attempt \d+ started on pair-\d/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  }, 240_000);
});
