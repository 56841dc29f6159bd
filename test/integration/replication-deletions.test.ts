import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerRegistry, type DockerRegistryHandle } from '../helpers/docker-registry.js';
import type { OciClient } from '../helpers/oci-client.js';
import { closeAll, startInProcessWharfs } from '../helpers/in-process-cluster.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { digestAt, ociOf, settled, tasksOf, type Api } from '../helpers/replication-cluster.js';
import {
  adminApi,
  dockerRegistryEndpoint,
  finished,
  headDigest,
  wharfEndpoint,
} from '../helpers/replication.js';
import { waitFor } from '../helpers/poll.js';

// Deletions made through the management API (as Harbor's portal makes them) replicate like
// deletions through /v2: a tag, an artifact, a whole repository. A docker-registry destination
// deletes by digest only: a tag alone on its manifest is deleted that way; a tag sharing its
// manifest with another is not (deleting it would take the other): the task skips it and says
// why (a skip, not a failure: retrying cannot help). A
// repository deleted while its policy did not run is still visited by the next full run. The two
// Wharfs are built in the test process; docker-registry runs as its own process.

describe('replicated deletions', () => {
  let src: InProcessWharf;
  let peer: InProcessWharf;
  let dr: DockerRegistryHandle;
  let api: Api;
  let oci: OciClient;
  let peerId: number;
  let drId: number;

  beforeAll(async () => {
    const [wharfs, registry] = await Promise.all([
      startInProcessWharfs(2, {}, 'deletions'),
      startDockerRegistry(),
    ]);
    [src, peer] = wharfs as [InProcessWharf, InProcessWharf];
    dr = registry;
    api = adminApi(src);
    oci = ociOf(src);
    peerId = await api.create('/registries', wharfEndpoint('peer', peer));
    drId = await api.create('/registries', dockerRegistryEndpoint('dr', dr));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([closeAll([src, peer]), dr?.stop()]);
  }, 60_000);

  const artifactPath = (repository: string, reference: string) =>
    `/projects/test/repositories/${encodeURIComponent(repository.slice('test/'.length))}/artifacts/${reference}`;
  const atDr = (repository: string, tag: string) => headDigest(dr.url, undefined, repository, tag);

  it('a tag deleted through the API is deleted at docker-registry by digest, unless another tag shares it', async () => {
    const policy = await api.create('/replication/policies', {
      name: 'to-dr',
      dest_registry: { id: drId },
      filters: [{ type: 'name', value: 'test/dr-del' }],
      trigger: { type: 'event_based' },
      replicate_deletion: true,
    });
    const alone = await oci.pushImage('test/dr-del', 'alone');
    const shared = await oci.pushImage('test/dr-del', 'shared-1');
    const add = await api.call('POST', `${artifactPath('test/dr-del', 'shared-1')}/tags`, {
      name: 'shared-2',
    });
    expect(add.status).toBe(201);
    await waitFor('all three tags at docker-registry', async () =>
      (await atDr('test/dr-del', 'alone')) === alone.digest &&
      (await atDr('test/dr-del', 'shared-1')) === shared.digest &&
      (await atDr('test/dr-del', 'shared-2')) === shared.digest
        ? true
        : undefined,
    );
    await settled(api, policy);

    const del = await api.call('DELETE', `${artifactPath('test/dr-del', 'alone')}/tags/alone`);
    expect(del.status).toBe(200);
    await waitFor('alone deleted at docker-registry', async () =>
      (await atDr('test/dr-del', 'alone')) === null ? true : undefined,
    );
    await settled(api, policy);

    const delShared = await api.call('DELETE', `${artifactPath('test/dr-del', 'shared-1')}/tags/shared-1`);
    expect(delShared.status).toBe(200);
    // Impossible there, so not a failure: the task succeeds and says it skipped, and why.
    const skipped = await waitFor('the deletion of shared-1 to end', async () => {
      const tasks = await tasksOf(api, policy);
      return tasks.find(
        (t) =>
          t.operation === 'deletion' &&
          t.dst_resource === 'test/dr-del:shared-1' &&
          t.status !== 'Pending' &&
          t.status !== 'InProgress',
      );
    });
    expect(skipped.status).toBe('Succeed');
    const log = await waitFor('the skip in the task log', async () => {
      const res = await api.call(
        'GET',
        `/replication/executions/${skipped.execution_id}/tasks/${skipped.id}/log`,
      );
      const text = await res.text();
      return /skipped: /.test(text) && text;
    });
    expect(log).toMatch(
      /skipped: the destination deletes manifests by digest only, and shared-2 \(still wanted\) point at the same manifest/,
    );
    // Nothing the source still has was taken with it.
    expect(await atDr('test/dr-del', 'shared-2')).toBe(shared.digest);
  }, 90_000);

  it('an artifact and a repository deleted through the API are deleted at a Wharf peer', async () => {
    const policy = await api.create('/replication/policies', {
      name: 'to-peer',
      dest_registry: { id: peerId },
      filters: [{ type: 'name', value: 'test/api-del-*' }],
      trigger: { type: 'event_based' },
      replicate_deletion: true,
    });
    const one = await oci.pushImage('test/api-del-a', 'v1');
    const two = await oci.pushImage('test/api-del-b', 'v1');
    await waitFor('both at the peer', async () =>
      (await digestAt(peer, 'test/api-del-a', 'v1')) === one.digest &&
      (await digestAt(peer, 'test/api-del-b', 'v1')) === two.digest
        ? true
        : undefined,
    );
    await settled(api, policy);

    expect((await api.call('DELETE', artifactPath('test/api-del-a', one.digest))).status).toBe(200);
    expect((await api.call('DELETE', '/projects/test/repositories/api-del-b')).status).toBe(200);
    await waitFor('both deleted at the peer', async () =>
      (await digestAt(peer, 'test/api-del-a', 'v1')) === null &&
      (await digestAt(peer, 'test/api-del-b', 'v1')) === null
        ? true
        : undefined,
    );
  }, 90_000);

  it('a full run visits a repository deleted while its policy did not run, and deletes its tags', async () => {
    const image = await oci.pushImage('test/gone-repo', 'v1');
    const policy = await api.create('/replication/policies', {
      name: 'manual-to-peer',
      dest_registry: { id: peerId },
      filters: [{ type: 'name', value: 'test/gone-*' }],
      replicate_deletion: true,
    });
    const first = await finished(api, await api.create('/replication/executions', { policy_id: policy }));
    expect(first).toMatchObject({ status: 'Succeed', total: 1 });
    expect(await digestAt(peer, 'test/gone-repo', 'v1')).toBe(image.digest);

    expect((await api.call('DELETE', '/projects/test/repositories/gone-repo')).status).toBe(200);
    const second = await finished(api, await api.create('/replication/executions', { policy_id: policy }));
    expect(second).toMatchObject({ status: 'Succeed', total: 1 });
    expect(await digestAt(peer, 'test/gone-repo', 'v1')).toBeNull();
    const third = await finished(api, await api.create('/replication/executions', { policy_id: policy }));
    expect(third).toMatchObject({ status: 'Succeed', total: 0 });
  }, 90_000);
});
