import { chmod, lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';

// Wharf's files (the embedded database, whose WAL holds password and secret hashes, the blobs, the
// key files) are readable by their owner only: directories 0700, files 0600. The process umask
// (set by the CLI) makes new files so; these helpers find and fix what was made otherwise.

/** The permission bits that must be clear on every private file or directory (group and other). */
const SHARED_BITS = 0o077;

export interface LooseMode {
  path: string;
  /** The permission bits found (e.g. 0o644). */
  mode: number;
  directory: boolean;
}

/** The same mode without group and other bits: 0644 becomes 0600, 0755 becomes 0700. */
export function privateMode(mode: number): number {
  return mode & 0o700;
}

/** Octal text of a mode's permission bits, as `ls` and `chmod` spell it (0644). */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

async function looseModeOf(path: string): Promise<LooseMode | null> {
  const info = await lstat(path).catch((err: unknown) => {
    if ((err as { code?: unknown }).code === 'ENOENT') return null;
    throw err;
  });
  // Symbolic links have no mode of their own to speak of; what they point at is checked where it lives.
  if (!info || info.isSymbolicLink()) return null;
  const mode = info.mode & 0o777;
  return mode & SHARED_BITS ? { path, mode, directory: info.isDirectory() } : null;
}

/**
 * Every file and directory at or below `path` (not following symbolic links) that group or others
 * may access. A missing path has none.
 */
export async function* findLooseModes(path: string, recursive: boolean): AsyncGenerator<LooseMode> {
  const own = await looseModeOf(path);
  if (own) yield own;
  if (!recursive) return;
  let dir;
  try {
    dir = await opendir(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw err;
  }
  for await (const entry of dir) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) yield* findLooseModes(child, true);
    else if (entry.isFile()) {
      const loose = await looseModeOf(child);
      if (loose) yield loose;
    }
  }
}

/** Removes group and other access from one file or directory. */
export async function makePrivate(entry: LooseMode): Promise<void> {
  await chmod(entry.path, privateMode(entry.mode));
}

/**
 * Makes the given paths private if they are not (one level only: a private directory already
 * keeps others out of everything below it). Returns what was changed, for a warning.
 */
export async function tightenModes(paths: readonly string[]): Promise<LooseMode[]> {
  const changed: LooseMode[] = [];
  for (const path of paths) {
    const loose = await looseModeOf(path);
    if (!loose) continue;
    await makePrivate(loose);
    changed.push(loose);
  }
  return changed;
}
