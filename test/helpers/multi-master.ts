import { finished, type adminApi, type ExecutionJson, type TaskJson } from './replication.js';
import { adminAuth, type WharfHandle } from './server.js';
import { waitFor } from './poll.js';

// Helpers for the two-way (multi-master) replication tests between real Wharf processes: the
// whole tag → digest map of a repository on one registry, tag deletions by a client, and the
// executions and tasks of several policies on several registries taken together.

export type Api = ReturnType<typeof adminApi>;

/** What these helpers need of a registry: a spawned process or an app built in the test process. */
export type Registry = Pick<WharfHandle, 'url' | 'adminUser' | 'adminPassword'>;

/** Registries and the policies each holds: what a multi-master setup runs. */
export interface PolicySet {
  name: string;
  api: Api;
  policies: readonly number[];
}

/** tag → digest of every tag of a repository on a registry, in tag order ({} when it has none). */
export async function tagMap(handle: Registry, repository: string): Promise<Record<string, string>> {
  const authorization = adminAuth(handle);
  const listed = await fetch(`${handle.url}/v2/${repository}/tags/list?n=1000`, {
    headers: { authorization },
  });
  if (listed.status === 404) return {};
  if (listed.status !== 200) throw new Error(`tags of ${repository}: ${listed.status}`);
  const { tags } = (await listed.json()) as { tags: string[] | null };
  const map: Record<string, string> = {};
  for (const tag of [...(tags ?? [])].sort()) {
    const res = await fetch(`${handle.url}/v2/${repository}/manifests/${tag}`, {
      method: 'HEAD',
      headers: {
        authorization,
        accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json',
      },
    });
    // A tag deleted between the listing and the HEAD is simply not in the map.
    if (res.status === 404) continue;
    if (res.status !== 200) throw new Error(`HEAD ${repository}:${tag}: ${res.status}`);
    map[tag] = res.headers.get('docker-content-digest') ?? '';
  }
  return map;
}

/** The tag maps of several repositories on one registry. */
export async function tagMaps(
  handle: Registry,
  repositories: readonly string[],
): Promise<Record<string, Record<string, string>>> {
  const maps: Record<string, Record<string, string>> = {};
  for (const repository of repositories) maps[repository] = await tagMap(handle, repository);
  return maps;
}

/** Deletes a tag as a client (the admin) would: DELETE /v2/{repository}/manifests/{tag}. */
export async function deleteTag(handle: Registry, repository: string, tag: string): Promise<void> {
  const res = await fetch(`${handle.url}/v2/${repository}/manifests/${tag}`, {
    method: 'DELETE',
    headers: { authorization: adminAuth(handle) },
  });
  if (res.status !== 202) throw new Error(`DELETE ${repository}:${tag}: ${res.status} ${await res.text()}`);
}

/** Every execution of a policy, newest first, all pages. */
export async function executionsOf(api: Api, policyId: number): Promise<ExecutionJson[]> {
  const all: ExecutionJson[] = [];
  for (let page = 1; ; page++) {
    const list = await api.json<ExecutionJson[]>(
      'GET',
      `/replication/executions?policy_id=${policyId}&page=${page}&page_size=100`,
    );
    all.push(...list);
    if (list.length < 100) return all;
  }
}

/** Every execution of the policies of the sets. */
export async function allExecutions(sets: readonly PolicySet[]): Promise<ExecutionJson[]> {
  const all: ExecutionJson[] = [];
  for (const set of sets) for (const id of set.policies) all.push(...(await executionsOf(set.api, id)));
  return all;
}

/** Every task of every execution of the policies of the sets, with where it ran. */
export async function allTasks(
  sets: readonly PolicySet[],
): Promise<Array<TaskJson & { registry: string; policy: number; api: Api }>> {
  const all: Array<TaskJson & { registry: string; policy: number; api: Api }> = [];
  for (const set of sets) {
    for (const policy of set.policies) {
      for (const e of await executionsOf(set.api, policy)) {
        const tasks = await set.api.json<TaskJson[]>(
          'GET',
          `/replication/executions/${e.id}/tasks?page_size=100`,
        );
        all.push(...tasks.map((t) => ({ ...t, registry: set.name, policy, api: set.api })));
      }
    }
  }
  return all;
}

/**
 * Waits until no execution of any policy of the sets is in progress, twice in a row `gapMs`
 * apart with the same number of executions (a copy that lands may start an event run at the
 * peer a moment later); returns the planned task count summed over every execution.
 */
export async function quiescent(
  sets: readonly PolicySet[],
  timeoutMs = 120_000,
  gapMs = 1_000,
): Promise<{ tasks: number; executions: number }> {
  let last: { tasks: number; executions: number } | undefined;
  return waitFor(
    'every execution of every policy to end',
    async () => {
      const executions = await allExecutions(sets);
      if (executions.some((e) => e.status === 'InProgress')) {
        last = undefined;
        return undefined;
      }
      const now = { tasks: executions.reduce((n, e) => n + e.total, 0), executions: executions.length };
      const same = last?.executions === now.executions && last.tasks === now.tasks;
      last = now;
      return same ? now : undefined;
    },
    timeoutMs,
    gapMs,
  );
}

/** Starts one manual run of every policy of the sets and waits for them all; returns them. */
export async function reconcileAll(sets: readonly PolicySet[], timeoutMs = 60_000): Promise<ExecutionJson[]> {
  const started: Array<{ api: Api; id: number }> = [];
  for (const set of sets) {
    for (const policy of set.policies) {
      started.push({
        api: set.api,
        id: await set.api.create('/replication/executions', { policy_id: policy }),
      });
    }
  }
  return Promise.all(started.map(({ api, id }) => finished(api, id, timeoutMs)));
}

/** The logs of the tasks whose destination is `repository:tag`, for a failure's message. */
export async function taskLogs(sets: readonly PolicySet[], resource: string): Promise<string> {
  const lines: string[] = [];
  for (const t of (await allTasks(sets)).filter((x) => x.dst_resource === resource)) {
    const res = await t.api.call('GET', `/replication/executions/${t.execution_id}/tasks/${t.id}/log`);
    lines.push(
      `--- ${t.registry} policy ${t.policy} task ${t.id} (${t.operation}, ${t.status}):`,
      await res.text(),
    );
  }
  return lines.join('\n');
}
