import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OciClient, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, imageManifest } from './oci-client.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { headDigest, type adminApi, type ExecutionJson, type TaskJson } from './replication.js';
import { adminAuth, createProject, DEFAULT_TEST_PROJECTS, startWharf, type WharfHandle } from './server.js';
import { waitFor } from './poll.js';

// Helpers for the replication topology, outage and kill tests: several Wharf instances, images
// with one large layer, counting a policy's executions and tasks, and a pair of instances that
// share one real PostgreSQL, one storage directory and the same secrets (a small cluster whose
// job service hands a dead instance's jobs to the other).

export type Api = ReturnType<typeof adminApi>;

/** Starts `count` independent Wharf instances (each its own PGlite and storage). */
export async function startWharfs(count: number): Promise<WharfHandle[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startWharf()));
  const handles = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(handles.map((h) => h.stop()));
    throw failed.reason;
  }
  return handles;
}

/** The admin's OCI client for one instance. */
export function ociOf(handle: Pick<WharfHandle, 'url' | 'adminUser' | 'adminPassword'>): OciClient {
  return new OciClient(handle.url, adminAuth(handle));
}

/** The digest `repository:tag` has on an instance (as its admin), or null. */
export function digestAt(
  handle: Pick<WharfHandle, 'url' | 'adminUser' | 'adminPassword'>,
  repository: string,
  tag: string,
): Promise<string | null> {
  return headDigest(handle.url, adminAuth(handle), repository, tag);
}

/** Waits until `repository:tag` on `handle` is `digest`; returns the milliseconds waited. */
export async function arrives(
  handle: Pick<WharfHandle, 'url' | 'adminUser' | 'adminPassword'>,
  repository: string,
  tag: string,
  digest: string,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<number> {
  const began = Date.now();
  await waitFor(
    `${repository}:${tag} = ${digest} at ${handle.url}`,
    async () => ((await digestAt(handle, repository, tag)) === digest ? true : undefined),
    timeoutMs,
    everyMs,
  );
  return Date.now() - began;
}

/**
 * Pushes an image whose one layer is `layerBytes` random bytes (plus a small config); returns the
 * manifest digest and the layer's size.
 */
export async function pushLargeImage(
  client: OciClient,
  repository: string,
  tag: string,
  layerBytes: number,
  /** The layer to use instead of random bytes (images sharing a layer). */
  layer: Buffer = randomBytes(layerBytes),
): Promise<{ digest: string; layerSize: number; totalBytes: number }> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }),
  );
  const configDigest = await client.pushBlob(repository, config);
  const layerDigest = await client.pushBlob(repository, layer);
  const manifest = imageManifest({
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: layerDigest, size: layer.length }],
  });
  const digest = await client.putManifest(repository, tag, manifest, OCI_MANIFEST);
  return { digest, layerSize: layer.length, totalBytes: layer.length + config.length + manifest.length };
}

/** A policy's executions (newest first, at most 100). */
export async function executionsOf(api: Api, policyId: number): Promise<ExecutionJson[]> {
  return api.json<ExecutionJson[]>('GET', `/replication/executions?policy_id=${policyId}&page_size=100`);
}

/** Every task of every execution of a policy (at most 100 executions of 100 tasks). */
export async function tasksOf(api: Api, policyId: number): Promise<TaskJson[]> {
  const tasks: TaskJson[] = [];
  for (const e of await executionsOf(api, policyId)) tasks.push(...(await api.tasks(e.id)));
  return tasks;
}

/** Waits until no execution of the policy is in progress; returns its executions. */
export async function settled(api: Api, policyId: number, timeoutMs = 30_000): Promise<ExecutionJson[]> {
  return waitFor(
    `policy ${policyId} to have no execution in progress`,
    async () => {
      const executions = await executionsOf(api, policyId);
      return executions.some((e) => e.status === 'InProgress') ? undefined : executions;
    },
    timeoutMs,
    200,
  );
}

// ---------------------------------------------------------------------------------------------
// Two instances on one PostgreSQL

export interface SharedPair {
  postgres: PostgresServer;
  databaseUrl: string;
  storageRoot: string;
  /** cluster.instance_name of each, in the order of `instances`. */
  names: string[];
  instances: WharfHandle[];
  /** The instance named `name` (a worker pool's host). */
  named(name: string): WharfHandle;
  stop(): Promise<void>;
}

/**
 * Two Wharf instances sharing one real PostgreSQL database, one storage directory, one token
 * signing key and one encryption key for stored credentials, as a cluster is deployed
 * (docs/architecture.md, "Cluster"); no load balancer: each is reached directly.
 */
export async function startSharedPair(): Promise<SharedPair> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-repl-pair-'));
  const storageRoot = join(root, 'storage');
  await mkdir(storageRoot, { recursive: true });
  const signingKeyFile = join(root, 'signing-key.pem');
  const encryptionKeyFile = join(root, 'encryption.key');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(signingKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(encryptionKeyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  const postgres = await startPostgres();
  const instances: WharfHandle[] = [];
  const stop = async () => {
    await Promise.all(instances.map((h) => h.stop()));
    await postgres.stop();
    await rm(root, { recursive: true, force: true });
  };
  try {
    const databaseUrl = await postgres.createDatabase();
    const names = ['pair-1', 'pair-2'];
    const config = (name: string) =>
      [
        'cluster:',
        `  instance_name: "${name}"`,
        'storage:',
        '  filesystem:',
        `    root: "${storageRoot}"`,
        'secrets:',
        `  encryption_key_file: "${encryptionKeyFile}"`,
      ].join('\n');
    // One after the other: the first runs the migrations; projects are made once, below.
    for (const name of names) {
      instances.push(
        await startWharf({
          databaseUrl,
          projects: [],
          authConfig: { token: { signing_key_file: signingKeyFile } },
          extraConfig: config(name),
        }),
      );
    }
    const first = instances[0] as WharfHandle;
    for (const project of DEFAULT_TEST_PROJECTS) await createProject(first, project);
    return {
      postgres,
      databaseUrl,
      storageRoot,
      names,
      instances,
      named(name) {
        const i = names.indexOf(name);
        const found = instances[i];
        if (!found) throw new Error(`no instance named ${JSON.stringify(name)}`);
        return found;
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

interface PoolJson {
  worker_pool_id: string;
  host: string;
}

interface WorkerJson {
  pool_id: string;
  job_id: string;
  job_name: string;
}

/** The host (instance name) of the worker pool that runs job `jobId` now, or undefined. */
export async function instanceRunning(api: Api, jobId: string): Promise<string | undefined> {
  const [pools, workers] = await Promise.all([
    api.json<PoolJson[]>('GET', '/jobservice/pools'),
    api.json<WorkerJson[]>('GET', '/jobservice/pools/all/workers'),
  ]);
  const worker = workers.find((w) => w.job_id === jobId);
  if (!worker) return undefined;
  return pools.find((p) => p.worker_pool_id === worker.pool_id)?.host;
}
