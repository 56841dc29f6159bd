import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Wrappers for the real container clients (skopeo, podman, buildah) that the end-to-end tests drive
// against a registry over plain HTTP. Each child runs with execFile (no shell), a timeout, and
// configuration of its own: a private policy.json, registries.conf, storage.conf and auth file, so
// nothing on the machine (or another test's login) changes what a test sees. podman and buildah get
// throwaway vfs storage per client. The blob info cache, which lets all three skip uploads they
// believe the registry already has, can be cleared before a push that must really upload.

export interface Creds {
  username: string;
  password: string;
}

export interface RunOptions {
  /** Default 5 minutes; the child is SIGKILLed when it runs out. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    const how = exitCode !== null ? `exit ${exitCode}` : signal !== null ? `signal ${signal}` : 'did not run';
    super(`${command} ${redact(args).join(' ')} failed (${how}):\n${stderr.trim()}`);
    this.name = 'CommandError';
  }
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/** Passwords stay out of error messages and test reports. */
function redact(args: readonly string[]): string[] {
  return args.map((arg, i) =>
    /^--(src-|dest-)?creds$/.test(args[i - 1] ?? '')
      ? arg.replace(/:.*/, ':***')
      : arg.replace(/^(--(?:src-|dest-)?creds=[^:]*):.*/, '$1:***'),
  );
}

/** Runs a program and returns its stdout; throws CommandError (with stderr) on failure or timeout. */
export async function run(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  const sandbox = await clientSandbox();
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ...sandbox.env, ...options.env },
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        const code = typeof error.code === 'number' ? error.code : null;
        const signal = error.signal ?? null;
        const why =
          error.killed && signal === 'SIGKILL'
            ? `${stderr}\n(killed after its timeout)`
            : stderr || error.message;
        reject(new CommandError(command, args, code, signal, stdout, why));
      },
    );
  });
}

interface Sandbox {
  dir: string;
  policy: string;
  env: NodeJS.ProcessEnv;
}

let sandboxPromise: Promise<Sandbox> | undefined;

/** One configuration directory per test process, created on first use; see disposeClientSandbox. */
function clientSandbox(): Promise<Sandbox> {
  sandboxPromise ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-clients-'));
    const policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const registriesConf = join(dir, 'registries.conf');
    // No search registries, mirrors or blocks: a test's image name means exactly that registry.
    await writeFile(registriesConf, 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n');
    // podman insists that a REGISTRY_AUTH_FILE exists.
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: {} }));
    const runtimeDir = join(dir, 'run');
    await mkdir(runtimeDir, { mode: 0o700 });
    const env: NodeJS.ProcessEnv = {
      REGISTRY_AUTH_FILE: authFile,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      XDG_RUNTIME_DIR: runtimeDir,
      TMPDIR: join(dir, 'tmp'),
      BUILDAH_ISOLATION: 'chroot',
    };
    await mkdir(join(dir, 'tmp'));
    return { dir, policy, env };
  })();
  return sandboxPromise;
}

/** Removes the configuration directory; call it in afterAll (a later call creates a new one). */
export async function disposeClientSandbox(): Promise<void> {
  const pending = sandboxPromise;
  sandboxPromise = undefined;
  if (pending) await rm((await pending).dir, { recursive: true, force: true });
}

/**
 * Where containers/image keeps, for root, which blobs it has seen in which registry, and which
 * compressed blob holds which uncompressed layer. skopeo, podman and buildah (as Debian ships them)
 * all use this one file whatever their storage root, and none has an option to move it: they consult
 * it to skip an upload or to mount the blob from another repository instead.
 */
export const BLOB_INFO_CACHE = '/var/lib/containers/cache/blob-info-cache-v1.boltdb';

export async function clearBlobInfoCache(): Promise<void> {
  await rm(BLOB_INFO_CACHE, { force: true });
}

function isRegistryRef(ref: string): boolean {
  return ref.startsWith('docker://');
}

function credsArg(creds: Creds): string {
  return `${creds.username}:${creds.password}`;
}

// ---------------------------------------------------------------------------------------------
// skopeo

export interface SkopeoCopyOptions extends RunOptions {
  creds?: Creds;
  /** --all: every image of an index, not only the one for this machine. */
  all?: boolean;
  /** Make skopeo fail rather than change a manifest (and so its digest) on the way. */
  preserveDigests?: boolean;
  format?: 'oci' | 'v2s2';
  /** Forget what this machine's skopeo knows about blobs, so that every layer is really uploaded. */
  freshBlobInfoCache?: boolean;
  digestFile?: string;
}

async function skopeo(args: string[], options: RunOptions): Promise<string> {
  const sandbox = await clientSandbox();
  return run('skopeo', ['--policy', sandbox.policy, '--tmpdir', join(sandbox.dir, 'tmp'), ...args], options);
}

/** skopeo copy SRC DEST; registry sides (docker://) get plain HTTP and the credentials. */
export async function skopeoCopy(
  src: string,
  dest: string,
  options: SkopeoCopyOptions = {},
): Promise<string> {
  if (options.freshBlobInfoCache) await clearBlobInfoCache();
  const args = ['copy', '--retry-times', '0'];
  if (isRegistryRef(src)) {
    args.push('--src-tls-verify=false');
    if (options.creds) args.push('--src-creds', credsArg(options.creds));
  }
  if (isRegistryRef(dest)) {
    args.push('--dest-tls-verify=false');
    if (options.creds) args.push('--dest-creds', credsArg(options.creds));
  }
  if (options.all) args.push('--all');
  if (options.preserveDigests) args.push('--preserve-digests');
  if (options.format) args.push('--format', options.format);
  if (options.digestFile) args.push('--digestfile', options.digestFile);
  return skopeo([...args, src, dest], options);
}

export interface SkopeoRefOptions extends RunOptions {
  creds?: Creds;
}

function registryArgs(ref: string, options: SkopeoRefOptions): string[] {
  if (!isRegistryRef(ref)) return [];
  return ['--tls-verify=false', ...(options.creds ? ['--creds', credsArg(options.creds)] : [])];
}

/** skopeo inspect: the parsed summary (Digest, Layers, ...). */
export async function skopeoInspect(
  ref: string,
  options: SkopeoRefOptions = {},
): Promise<SkopeoInspectOutput> {
  return JSON.parse(
    await skopeo(['inspect', ...registryArgs(ref, options), ref], options),
  ) as SkopeoInspectOutput;
}

export interface SkopeoInspectOutput {
  Name?: string;
  Digest: string;
  RepoTags: string[];
  Architecture: string;
  Os: string;
  Layers: string[];
  LayersData?: Array<{ MIMEType: string; Digest: string; Size: number }>;
}

/** skopeo inspect --raw: the manifest bytes exactly as served (so that they can be hashed). */
export async function skopeoInspectRaw(ref: string, options: SkopeoRefOptions = {}): Promise<Buffer> {
  const out = await skopeo(['inspect', '--raw', ...registryArgs(ref, options), ref], options);
  return Buffer.from(out, 'utf8');
}

/** skopeo inspect --config --raw: the image configuration blob. */
export async function skopeoInspectConfig(ref: string, options: SkopeoRefOptions = {}): Promise<Buffer> {
  const out = await skopeo(['inspect', '--config', '--raw', ...registryArgs(ref, options), ref], options);
  return Buffer.from(out, 'utf8');
}

/** skopeo list-tags docker://host/repo → the tags. */
export async function skopeoListTags(ref: string, options: SkopeoRefOptions = {}): Promise<string[]> {
  const out = await skopeo(['list-tags', ...registryArgs(ref, options), ref], options);
  return (JSON.parse(out) as { Tags: string[] }).Tags;
}

export async function skopeoDelete(ref: string, options: SkopeoRefOptions = {}): Promise<void> {
  await skopeo(['delete', ...registryArgs(ref, options), ref], options);
}

export interface SkopeoSyncOptions extends RunOptions {
  src: 'docker' | 'dir' | 'yaml';
  dest: 'docker' | 'dir';
  creds?: Creds;
  all?: boolean;
  scoped?: boolean;
  preserveDigests?: boolean;
  freshBlobInfoCache?: boolean;
}

/** skopeo sync --src SRC --dest DEST SOURCE DESTINATION. */
export async function skopeoSync(
  source: string,
  destination: string,
  options: SkopeoSyncOptions,
): Promise<string> {
  if (options.freshBlobInfoCache) await clearBlobInfoCache();
  const args = ['sync', '--retry-times', '0', '--src', options.src, '--dest', options.dest];
  if (options.src !== 'dir') {
    args.push('--src-tls-verify=false');
    if (options.creds) args.push('--src-creds', credsArg(options.creds));
  }
  if (options.dest === 'docker') {
    args.push('--dest-tls-verify=false');
    if (options.creds) args.push('--dest-creds', credsArg(options.creds));
  }
  if (options.all) args.push('--all');
  if (options.scoped) args.push('--scoped');
  if (options.preserveDigests) args.push('--preserve-digests');
  return skopeo([...args, source, destination], options);
}

// ---------------------------------------------------------------------------------------------
// podman and buildah: one throwaway vfs store per client

interface Store {
  dir: string;
  /** --root/--runroot/--storage-driver, common to podman and buildah. */
  storageArgs: string[];
  /** A storage.conf of the store's own: podman reads one before it looks at its flags. */
  env: NodeJS.ProcessEnv;
}

async function createStore(prefix: string): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await Promise.all(['root', 'runroot', 'tmp'].map((d) => mkdir(join(dir, d))));
  const [root, runroot] = [join(dir, 'root'), join(dir, 'runroot')];
  const storageConf = join(dir, 'storage.conf');
  await writeFile(
    storageConf,
    `[storage]\ndriver = "vfs"\ngraphroot = ${JSON.stringify(root)}\nrunroot = ${JSON.stringify(runroot)}\n`,
  );
  return {
    dir,
    storageArgs: ['--storage-driver', 'vfs', '--root', root, '--runroot', runroot],
    env: { CONTAINERS_STORAGE_CONF: storageConf },
  };
}

export interface PushOptions extends RunOptions {
  creds?: Creds;
  format?: 'oci' | 'v2s2';
  /** Forget what this machine knows about blobs, so that every layer is really uploaded. */
  freshBlobInfoCache?: boolean;
}

export interface PullOptions extends RunOptions {
  creds?: Creds;
  /** os/arch[/variant] to pick from an index; the default is this machine's. */
  platform?: string;
}

function registryFlags(ref: string, creds: Creds | undefined): string[] {
  if (!isRegistryRef(ref)) return [];
  return ['--tls-verify=false', ...(creds ? ['--creds', credsArg(creds)] : [])];
}

/** podman/buildah push with --digestfile: returns the manifest digest the registry accepted. */
async function pushWithDigestFile(
  tool: (args: string[], options?: RunOptions) => Promise<string>,
  storeDir: string,
  command: string[],
  image: string,
  dest: string,
  options: PushOptions,
): Promise<string> {
  if (options.freshBlobInfoCache) await clearBlobInfoCache();
  const digestFile = join(storeDir, `digest-${randomUUID()}`);
  const args = [...command, '--digestfile', digestFile, ...registryFlags(dest, options.creds)];
  if (options.format) args.push('--format', options.format);
  await tool([...args, image, dest], options);
  return (await readFile(digestFile, 'utf8')).trim();
}

export interface PodmanClient {
  readonly storeDir: string;
  /** Runs podman with this client's storage. */
  podman(args: string[], options?: RunOptions): Promise<string>;
  /** podman pull REF (oci:DIR:TAG, docker://HOST/REPO:TAG ...) → the local image id. */
  pull(ref: string, options?: PullOptions): Promise<string>;
  /** podman push IMAGE DEST → the manifest digest the registry got (podman's --digestfile). */
  push(image: string, dest: string, options?: PushOptions): Promise<string>;
  rmi(image: string): Promise<void>;
  /** podman image inspect --format {{.Digest}}. */
  imageDigest(image: string): Promise<string>;
  /** Local image names, e.g. ['127.0.0.1:5000/library/x:1']. */
  imageNames(): Promise<string[]>;
  dispose(): Promise<void>;
}

export async function createPodman(): Promise<PodmanClient> {
  const store = await createStore('wharf-podman-');
  const base = [
    ...store.storageArgs,
    '--tmpdir',
    join(store.dir, 'tmp'),
    '--events-backend',
    'file',
    '--cgroup-manager',
    'cgroupfs',
  ];
  const podman = (args: string[], options: RunOptions = {}) =>
    run('podman', [...base, ...args], { ...options, env: { ...store.env, ...options.env } });
  return {
    storeDir: store.dir,
    podman,
    async pull(ref, options = {}) {
      const platform = options.platform ? ['--platform', options.platform] : [];
      const out = await podman(
        ['pull', '--quiet', ...platform, ...registryFlags(ref, options.creds), ref],
        options,
      );
      return out.trim().split('\n').pop() ?? '';
    },
    push(image, dest, options = {}) {
      return pushWithDigestFile(podman, store.dir, ['push'], image, dest, options);
    },
    async rmi(image) {
      await podman(['rmi', image]);
    },
    async imageDigest(image) {
      return (await podman(['image', 'inspect', '--format', '{{.Digest}}', image])).trim();
    },
    async imageNames() {
      const out = await podman(['images', '--format', '{{.Repository}}:{{.Tag}}']);
      return out.split('\n').filter((line) => line.length > 0);
    },
    async dispose() {
      await rm(store.dir, { recursive: true, force: true });
    },
  };
}

export interface BuildahClient {
  readonly storeDir: string;
  buildah(args: string[], options?: RunOptions): Promise<string>;
  /** buildah from IMAGE (or 'scratch') → the working container's name. */
  from(image: string, options?: PullOptions): Promise<string>;
  /** buildah copy CONTAINER SRC DEST. */
  copy(container: string, src: string, dest: string): Promise<void>;
  config(container: string, args: string[]): Promise<void>;
  /** buildah commit → the image id. */
  commit(container: string, image: string, options?: { format?: 'oci' | 'docker' }): Promise<string>;
  /** buildah push IMAGE DEST → the manifest digest the registry got (buildah's --digestfile). */
  push(image: string, dest: string, options?: PushOptions): Promise<string>;
  dispose(): Promise<void>;
}

export async function createBuildah(): Promise<BuildahClient> {
  const store = await createStore('wharf-buildah-');
  const buildah = (args: string[], options: RunOptions = {}) =>
    run('buildah', [...store.storageArgs, ...args], options);
  const containers: string[] = [];
  return {
    storeDir: store.dir,
    buildah,
    async from(image, options = {}) {
      const name = (
        await buildah(['from', '--quiet', ...registryFlags(image, options.creds), image], options)
      ).trim();
      containers.push(name);
      return name;
    },
    async copy(container, src, dest) {
      await buildah(['copy', '--quiet', container, src, dest]);
    },
    async config(container, args) {
      await buildah(['config', ...args, container]);
    },
    async commit(container, image, options = {}) {
      const out = await buildah(['commit', '--quiet', '--format', options.format ?? 'oci', container, image]);
      return out.trim();
    },
    push(image, dest, options = {}) {
      return pushWithDigestFile(buildah, store.dir, ['push', '--quiet'], image, dest, options);
    },
    async dispose() {
      // Working containers first, so that nothing of theirs outlives the store.
      for (const name of containers) await buildah(['rm', name]).catch(() => undefined);
      await rm(store.dir, { recursive: true, force: true });
    },
  };
}
