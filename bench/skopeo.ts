import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Credentials } from './client.js';

// skopeo copies between an OCI layout on disk and a registry, timed from process start to exit.
//
// skopeo remembers where it has seen each blob (its blob info cache) and would then mount a layer
// from an earlier repository instead of uploading it. Every copy therefore gets an empty cache of
// its own: as root, a private mount namespace in which a fresh directory is bound over the system
// cache directory; otherwise, a fresh XDG_DATA_HOME (where unprivileged skopeo keeps its cache).
// Only when neither is possible is the system cache file deleted before the copy.

const run = promisify(execFile);
const SYSTEM_CACHE_DIR = '/var/lib/containers/cache';

export type CacheIsolation = 'private mount namespace' | 'private XDG_DATA_HOME' | 'deleted system cache';

export function skopeoVersion(): string {
  return execFileSync('skopeo', ['--version'], { encoding: 'utf8' })
    .trim()
    .replace(/^skopeo version /, '');
}

export function chooseCacheIsolation(): CacheIsolation {
  if (process.getuid?.() !== 0) return 'private XDG_DATA_HOME';
  try {
    execFileSync('unshare', ['--mount', '--', 'true'], { stdio: 'ignore' });
    return 'private mount namespace';
  } catch {
    return 'deleted system cache';
  }
}

export interface CopyEnd {
  ref: string;
  credentials?: Credentials | undefined;
}

/** Runs `skopeo copy` with an empty blob info cache; returns the wall-clock seconds. */
export async function skopeoCopy(
  src: CopyEnd,
  dest: CopyEnd,
  isolation: CacheIsolation,
  workDir: string,
): Promise<number> {
  const args = ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false'];
  if (src.credentials) args.push('--src-creds', `${src.credentials.username}:${src.credentials.password}`);
  if (dest.credentials)
    args.push('--dest-creds', `${dest.credentials.username}:${dest.credentials.password}`);
  args.push(src.ref, dest.ref);

  const cacheDir = await mkdtemp(join(workDir, 'skopeo-cache-'));
  let command = 'skopeo';
  let commandArgs = args;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (isolation === 'private mount namespace') {
    command = 'unshare';
    commandArgs = [
      '--mount',
      '--',
      'sh',
      '-c',
      'mkdir -p "$1" && mount --bind "$2" "$1" && shift 2 && exec skopeo "$@"',
      'sh',
      SYSTEM_CACHE_DIR,
      cacheDir,
      ...args,
    ];
  } else if (isolation === 'private XDG_DATA_HOME') {
    env.XDG_DATA_HOME = cacheDir;
  } else {
    await rm(join(SYSTEM_CACHE_DIR, 'blob-info-cache-v1.boltdb'), { force: true });
  }
  const start = performance.now();
  try {
    await run(command, commandArgs, { env, timeout: 300_000, maxBuffer: 1 << 20 });
  } catch (err) {
    const detail = err instanceof Error && 'stderr' in err ? String(err.stderr) : String(err);
    const shown = args.map((arg, i) => (args[i - 1]?.endsWith('-creds') ? '***' : arg));
    throw new Error(`skopeo ${shown.join(' ')}: ${detail}`, { cause: err });
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
  return (performance.now() - start) / 1000;
}
