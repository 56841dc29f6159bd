import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { apiCaller, createdId } from './api-client.js';
import { imageManifest, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST } from './oci-client.js';
import { adminAuth, type WharfHandle } from './server.js';
import { waitFor } from './poll.js';

// Replication tests' small steps over the management API of a real server: endpoints, policies,
// executions, and polling until something is true (bounded).

export interface ExecutionJson {
  id: number;
  policy_id: number;
  status: string;
  status_text: string;
  trigger: string;
  total: number;
  failed: number;
  succeed: number;
  in_progress: number;
  stopped: number;
  start_time: string;
  end_time: string | null;
}

export interface TaskJson {
  id: number;
  execution_id: number;
  resource_type: string;
  src_resource: string;
  dst_resource: string;
  operation: string;
  status: string;
  job_id: string;
  start_time: string | null;
  end_time: string | null;
}

export function adminApi(handle: Pick<WharfHandle, 'url' | 'adminUser' | 'adminPassword'>) {
  const call = apiCaller(() => handle.url);
  const auth = adminAuth(handle);
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await call(method, path, auth, body);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    call: (method: string, path: string, body?: unknown) => call(method, path, auth, body),
    json,
    async create(path: string, body: unknown): Promise<number> {
      const res = await call('POST', path, auth, body);
      if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
      return createdId(res);
    },
    execution: (id: number) => json<ExecutionJson>('GET', `/replication/executions/${id}`),
    tasks: (id: number) => json<TaskJson[]>('GET', `/replication/executions/${id}/tasks?page_size=100`),
  };
}

/** A registry endpoint on `on` for another Wharf, as its admin. */
export function wharfEndpoint(name: string, peer: Pick<WharfHandle, 'url' | 'adminUser' | 'adminPassword'>) {
  return {
    name,
    url: peer.url,
    type: 'harbor',
    insecure: true,
    credential: { type: 'basic', access_key: peer.adminUser, access_secret: peer.adminPassword },
  };
}

/** A registry endpoint for a docker-registry peer (anonymous, plain HTTP). */
export function dockerRegistryEndpoint(name: string, peer: { url: string }) {
  return { name, url: peer.url, type: 'docker-registry', insecure: true };
}

/** Waits until an execution has ended; returns it. */
export async function finished(
  api: ReturnType<typeof adminApi>,
  id: number,
  timeoutMs = 30_000,
): Promise<ExecutionJson> {
  return waitFor(
    `execution ${id} to end`,
    async () => {
      const e = await api.execution(id);
      return e.status === 'InProgress' ? undefined : e;
    },
    timeoutMs,
    200,
  );
}

/** The digest a tag points at on a registry (HEAD), or null when it has no such tag. */
export async function headDigest(
  url: string,
  authorization: string | undefined,
  repository: string,
  tag: string,
) {
  const res = await fetch(`${url}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      ...(authorization && { authorization }),
    },
  });
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`HEAD ${repository}:${tag}: ${res.status}`);
  return res.headers.get('docker-content-digest');
}

/**
 * Pushes a small image to a plain distribution registry (no auth) in the two-step upload it
 * requires (POST, then PUT with the digest): docker-registry answers a one-request POST with 202.
 */
export async function pushToDistribution(url: string, repository: string, tag: string): Promise<string> {
  const blob = async (bytes: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const started = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    if (started.status !== 202) throw new Error(`starting an upload: ${started.status}`);
    const location = new URL(started.headers.get('location') ?? '', url);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: bytes });
    if (put.status !== 201) throw new Error(`finishing an upload: ${put.status}`);
    return { digest, size: bytes.length };
  };
  const config = await blob(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomUUID() })),
  );
  const layer = await blob(randomBytes(2048));
  const manifest = imageManifest({
    config: { mediaType: OCI_CONFIG, ...config },
    layers: [{ mediaType: OCI_LAYER, ...layer }],
  });
  const res = await fetch(`${url}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': OCI_MANIFEST },
    body: manifest,
  });
  if (res.status !== 201) throw new Error(`pushing the manifest: ${res.status}`);
  return `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
}

/** Every execution of a policy (up to 100), newest first. */
export function executionsOf(api: ReturnType<typeof adminApi>, policyId: number) {
  return api.json<ExecutionJson[]>('GET', `/replication/executions?policy_id=${policyId}&page_size=100`);
}

/** Waits until no execution of the policies is in progress; returns their task counts summed. */
export async function quiescentTasks(
  api: ReturnType<typeof adminApi>,
  policyIds: readonly number[],
  timeoutMs = 60_000,
): Promise<number> {
  return waitFor(
    'the executions to end',
    async () => {
      let total = 0;
      for (const id of policyIds) {
        const list = await executionsOf(api, id);
        if (list.some((e) => e.status === 'InProgress')) return undefined;
        total += list.reduce((n, e) => n + e.total, 0);
      }
      return total;
    },
    timeoutMs,
    250,
  );
}

/** A run in progress whose planning met a peer that is down and backs off (the planner's status text). */
function retryingPlanning(e: ExecutionJson): boolean {
  return e.status === 'InProgress' && /^planning attempt \d+ failed, retrying/.test(e.status_text);
}

/**
 * Waits until a policy has at least `count` executions newer than `afterId` (0: all) and every
 * one of them has met a peer it cannot reach: its planning failed and will be retried. Returns
 * those executions.
 */
async function runsRetrying(
  api: ReturnType<typeof adminApi>,
  policyId: number,
  { afterId, count, timeoutMs }: { afterId: number; count: number; timeoutMs: number },
): Promise<ExecutionJson[]> {
  let last: ExecutionJson[] = [];
  return waitFor(
    () =>
      `${count}+ runs of policy ${policyId} after execution ${afterId} to retry their planning (last: ${JSON.stringify(last.map((e) => [e.id, e.status, e.status_text]))})`,
    async () => {
      last = (await executionsOf(api, policyId)).filter((e) => e.id > afterId);
      return last.length >= count && last.every(retryingPlanning) ? last : undefined;
    },
    timeoutMs,
    250,
  );
}

/** Waits until a policy has at least `count` executions, each retrying its planning. */
export function planningRetried(
  api: ReturnType<typeof adminApi>,
  policyId: number,
  count: number,
  timeoutMs = 60_000,
): Promise<ExecutionJson[]> {
  return runsRetrying(api, policyId, { afterId: 0, count, timeoutMs });
}

/**
 * Waits until a policy has executions newer than `afterId` and every one of them retries its
 * planning (a partition's steady state: nothing more crosses until the link heals).
 */
export function runsRetryingSince(
  api: ReturnType<typeof adminApi>,
  policyId: number,
  afterId: number,
  timeoutMs = 60_000,
): Promise<ExecutionJson[]> {
  return runsRetrying(api, policyId, { afterId, count: 1, timeoutMs });
}

/**
 * Waits until the clock has passed `instant` (ms since the epoch): a push started now is surely
 * later than one that had returned by `instant`, at the millisecond resolution push times have.
 */
export async function clockPast(instant: number): Promise<void> {
  await waitFor(`the clock to pass ${instant}`, async () => Date.now() > instant, 1_000, 1);
}
