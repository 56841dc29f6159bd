import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerRegistry, type DockerRegistryHandle } from '../helpers/docker-registry.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import type { OciClient } from '../helpers/oci-client.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/poll.js';
import { ociOf, digestAt } from '../helpers/replication-cluster.js';
import { DEFAULT_TEST_PROJECTS } from '../helpers/server.js';
import {
  adminApi,
  dockerRegistryEndpoint,
  finished,
  headDigest,
  wharfEndpoint,
  type TaskJson,
} from '../helpers/replication.js';

// Issue #10, point 20: replication reports the truth.
// - A failed step is logged once, as "failed: ...", and the log never goes on to "succeeded"
//   while the task is Failed (before: "failed: ... " then "succeeded").
// - A deletion a docker-registry peer cannot perform (another wanted tag shares the manifest) is
//   a skip with its reason, not a failure, and later runs do not plan it again (before: the task
//   failed on every run, the policy red for ever); the skip lapses once the obstacle goes.
// - Logs name the instance by its instance name, count attempts plainly ("attempt 2", not
//   "attempt 2 of 1000000"), and write references as repository@digest.
// - An artifact deleted at the source is deleted at a Wharf peer, not left there untagged; a
//   deleted tag alone still leaves its artifact.

type Api = ReturnType<typeof adminApi>;

const DEV_PASSWORD = 'Dev-Passw0rd-2026';

describe('replication reports the truth', () => {
  let src: InProcessWharf;
  let peer: InProcessWharf;
  let dr: DockerRegistryHandle;
  let api: Api;
  let oci: OciClient;
  let peerId: number;
  let peerAsDeveloperId: number;
  let drId: number;

  beforeAll(async () => {
    [src, peer, dr] = await Promise.all([
      startInProcessWharf({ cluster: { instance_name: 'src-wharf' } }, { projects: DEFAULT_TEST_PROJECTS }),
      startInProcessWharf({ cluster: { instance_name: 'peer-wharf' } }, { projects: DEFAULT_TEST_PROJECTS }),
      startDockerRegistry(),
    ]);
    api = adminApi(src);
    oci = ociOf(src);
    peerId = await api.create('/registries', wharfEndpoint('peer', peer));
    drId = await api.create('/registries', dockerRegistryEndpoint('dr', dr));
    // A developer of the peer's project may push there but not delete: its deletions fail.
    const peerApi = adminApi(peer);
    const userId = await peerApi.create('/users', {
      username: 'dev',
      password: DEV_PASSWORD,
      email: 'dev@example.test',
    });
    const member = await peerApi.call('POST', '/projects/test/members', {
      role_id: 2,
      member_user: { user_id: userId },
    });
    expect(member.status).toBe(201);
    peerAsDeveloperId = await api.create('/registries', {
      ...wharfEndpoint('peer-as-developer', peer),
      credential: { type: 'basic', access_key: 'dev', access_secret: DEV_PASSWORD },
    });
    // Two embedded databases initialised in this process: slow on a busy machine.
  }, 300_000);

  afterAll(async () => {
    await Promise.all([src?.close(), peer?.close(), dr?.stop()]);
  }, 60_000);

  const artifactPath = (repository: string, reference: string) =>
    `/projects/test/repositories/${encodeURIComponent(repository.slice('test/'.length))}/artifacts/${reference}`;

  const run = async (policy: number) =>
    finished(api, await api.create('/replication/executions', { policy_id: policy }), 60_000);

  /** The lines of a log without their timestamps. */
  const linesOf = (log: string) =>
    log
      .trimEnd()
      .split('\n')
      .map((line) => line.replace(/^\S+ /, ''));

  /** A task's log once its job has written its outcome (a moment after the task's status). */
  const finalLog = (task: TaskJson, last = /^(succeeded|failed|skipped|stopped)\b/) => {
    let seen = '';
    return waitFor(
      () => `the log of task ${task.id} to end with ${String(last)}; it reads:\n${seen}`,
      async () => {
        const res = await api.call(
          'GET',
          `/replication/executions/${task.execution_id}/tasks/${task.id}/log`,
        );
        seen = await res.text();
        return last.test(linesOf(seen).at(-1) ?? '') ? seen : undefined;
      },
      30_000,
      200,
    );
  };

  it('a failed deletion is logged as failed once, never followed by succeeded', async () => {
    const policy = await api.create('/replication/policies', {
      name: 'to-peer-as-developer',
      dest_registry: { id: peerAsDeveloperId },
      filters: [{ type: 'name', value: 'test/fail-del' }],
      replicate_deletion: true,
    });
    const image = await oci.pushImage('test/fail-del', 'v1');
    expect(await run(policy)).toMatchObject({ status: 'Succeed', total: 1 });
    expect(await digestAt(peer, 'test/fail-del', 'v1')).toBe(image.digest);

    expect((await api.call('DELETE', `${artifactPath('test/fail-del', 'v1')}/tags/v1`)).status).toBe(200);
    const execution = await run(policy);
    expect(execution).toMatchObject({ status: 'Failed', total: 1, failed: 1 });
    const [task] = await api.tasks(execution.id);
    expect(task).toMatchObject({ operation: 'deletion', status: 'Failed' });
    const lines = linesOf(await finalLog(task as TaskJson));
    // One outcome, the last line, as the status says; nothing claims success.
    expect(lines.at(-1)).toMatch(/^failed: DELETE \S+ answered 403 DENIED/);
    expect(lines.filter((l) => /^failed: /.test(l))).toHaveLength(1);
    expect(lines.some((l) => /succeeded/.test(l))).toBe(false);
    expect(lines[0]).toBe('attempt 1 started on src-wharf');
    // Nothing was deleted at the peer.
    expect(await digestAt(peer, 'test/fail-del', 'v1')).toBe(image.digest);
  }, 120_000);

  it('a deletion docker-registry cannot perform is skipped with its reason, and not planned again', async () => {
    const policy = await api.create('/replication/policies', {
      name: 'to-dr-skips',
      dest_registry: { id: drId },
      filters: [{ type: 'name', value: 'test/dr-skip' }],
      replicate_deletion: true,
    });
    const shared = await oci.pushImage('test/dr-skip', 'shared-1');
    const add = await api.call('POST', `${artifactPath('test/dr-skip', 'shared-1')}/tags`, {
      name: 'shared-2',
    });
    expect(add.status).toBe(201);
    expect(await run(policy)).toMatchObject({ status: 'Succeed', total: 2 });
    const atDr = (tag: string) => headDigest(dr.url, undefined, 'test/dr-skip', tag);
    expect(await atDr('shared-1')).toBe(shared.digest);
    expect(await atDr('shared-2')).toBe(shared.digest);

    // shared-1 goes at the source; shared-2 stays, and docker-registry deletes by digest only.
    const del = await api.call('DELETE', `${artifactPath('test/dr-skip', 'shared-1')}/tags/shared-1`);
    expect(del.status).toBe(200);
    const second = await run(policy);
    expect(second).toMatchObject({ status: 'Succeed', total: 1, succeed: 1, failed: 0 });
    const [task] = await api.tasks(second.id);
    expect(task).toMatchObject({ operation: 'deletion', status: 'Succeed' });
    const lines = linesOf(await finalLog(task as TaskJson));
    expect(lines.at(-1)).toBe(
      `skipped: the destination deletes manifests by digest only, and shared-2 (still wanted) point at ` +
        `the same manifest as shared-1, test/dr-skip@${shared.digest}: deleting it would take them too`,
    );
    expect(lines.some((l) => /^failed|succeeded/.test(l))).toBe(false);
    expect(await atDr('shared-2')).toBe(shared.digest);

    // Later runs do not plan it again, and say why in the run's status.
    const third = await run(policy);
    expect(third).toMatchObject({ status: 'Succeed', total: 0 });
    expect(third.status_text).toMatch(/1 deletions the destination cannot perform skipped/);

    // Once shared-2 goes at the source too, nothing stands in the way: both go at docker-registry.
    const delOther = await api.call('DELETE', `${artifactPath('test/dr-skip', 'shared-2')}/tags/shared-2`);
    expect(delOther.status).toBe(200);
    const fourth = await run(policy);
    expect(fourth).toMatchObject({ status: 'Succeed', total: 2, succeed: 2 });
    expect(await atDr('shared-1')).toBeNull();
    expect(await atDr('shared-2')).toBeNull();
    expect(await run(policy)).toMatchObject({ status: 'Succeed', total: 0 });
  }, 120_000);

  it('an artifact deleted at the source is deleted at a Wharf peer; a deleted tag leaves its artifact', async () => {
    const policy = await api.create('/replication/policies', {
      name: 'to-peer-artifacts',
      dest_registry: { id: peerId },
      filters: [{ type: 'name', value: 'test/art-del' }],
      replicate_deletion: true,
    });
    const whole = await oci.pushImage('test/art-del', 'v1');
    const untag = await oci.pushImage('test/art-del', 'v2');
    const first = await run(policy);
    expect(first).toMatchObject({ status: 'Succeed', total: 2 });
    const peerApi = adminApi(peer);
    const atPeer = (digest: string) => peerApi.call('GET', artifactPath('test/art-del', digest));
    expect((await atPeer(whole.digest)).status).toBe(200);
    expect((await atPeer(untag.digest)).status).toBe(200);
    expect((await api.call('DELETE', artifactPath('test/art-del', whole.digest))).status).toBe(200);
    expect((await api.call('DELETE', `${artifactPath('test/art-del', 'v2')}/tags/v2`)).status).toBe(200);
    const second = await run(policy);
    expect(second).toMatchObject({ status: 'Succeed', total: 2, succeed: 2 });
    // The artifact deleted at the source is gone at the peer, not left untagged.
    expect((await atPeer(whole.digest)).status).toBe(404);
    // Only the tag of the other went at the source: its artifact stays at the peer, untagged.
    const kept = await atPeer(`${untag.digest}?with_tag=true`);
    expect(kept.status).toBe(200);
    expect(((await kept.json()) as { tags: unknown[] | null }).tags ?? []).toEqual([]);
    const tasks = await api.tasks(second.id);
    const v1 = tasks.find((t) => t.dst_resource.endsWith(':v1')) as TaskJson;
    const log = linesOf(await finalLog(v1));
    expect(log).toContain(`deleted artifact test/art-del@${whole.digest} (deleted at the source)`);
    // The copy's log writes the source reference as repository@digest and names the instance.
    const copies = await api.tasks(first.id);
    const copyLog = linesOf(await finalLog(copies[0] as TaskJson));
    expect(copyLog[0]).toBe('attempt 1 started on src-wharf');
    expect(
      copyLog.some((l) => new RegExp(`^copy http://\\S+/test/art-del@sha256:[0-9a-f]{64} → `).test(l)),
    ).toBe(true);
  }, 120_000);

  it('a retried attempt is counted plainly and names the instance', async () => {
    const closed = await freePort();
    const away = await api.create('/registries', {
      name: 'away',
      url: `http://127.0.0.1:${closed}`,
      type: 'docker-registry',
      insecure: true,
    });
    const policy = await api.create('/replication/policies', {
      name: 'to-away',
      dest_registry: { id: away },
      filters: [{ type: 'name', value: 'test/away' }],
    });
    await oci.pushImage('test/away', 'v1');
    const id = await api.create('/replication/executions', { policy_id: policy });
    try {
      const log = await waitFor(
        'a second planning attempt in a job log',
        async () => {
          for (let job = 1; job <= 300; job++) {
            const res = await api.call('GET', `/jobservice/jobs/${job}/log`);
            if (res.status === 404) break;
            const text = await res.text();
            const attempts = text.match(/^\S+ attempt \d+ .*started on /gm) ?? [];
            if (text.includes(`127.0.0.1:${closed}`) && attempts.length >= 2) return linesOf(text);
          }
          return undefined;
        },
        60_000,
        500,
      );
      expect(log[0]).toBe('attempt 1 started on src-wharf');
      expect(log[1]).toMatch(/^attempt 1 failed: .*ECONNREFUSED.*; retry in \d+\.\d s$/);
      expect(log[2]).toBe('attempt 2 started on src-wharf');
      // Each failure once: the planner does not repeat what the job service says.
      expect(log.slice(0, 3).filter((l) => /ECONNREFUSED/.test(l))).toHaveLength(1);
    } finally {
      await api.call('PUT', `/replication/executions/${id}`);
    }
  }, 120_000);
});
