import { join } from 'node:path';
import type { Logger } from 'pino';
import type { WharfConfig } from './config/schema.js';
import { findLooseModes, formatMode, makePrivate, tightenModes } from './storage/private-files.js';

// Which files of a configuration must be the owner's only (see storage/private-files.ts): the
// start tightens the directories Wharf made itself, `wharf fsck` checks everything below them.

export interface PrivatePath {
  path: string;
  /** Check what lies below too (fsck); the start only tightens the path itself. */
  recursive: boolean;
  /** Wharf made it (under data_dir, or its storage root): the start may fix its mode. */
  wharfOwned: boolean;
}

/** The embedded PGlite, whose files live under data_dir/pg. */
function usesEmbeddedDatabase(config: WharfConfig): boolean {
  return config.database.url === undefined && config.database.host === undefined;
}

export function privatePaths(config: WharfConfig): PrivatePath[] {
  const paths: PrivatePath[] = [{ path: config.data_dir, recursive: false, wharfOwned: true }];
  if (usesEmbeddedDatabase(config)) {
    paths.push({ path: join(config.data_dir, 'pg'), recursive: true, wharfOwned: true });
  }
  if (!config.storage.s3) {
    const root = config.storage.filesystem?.root ?? join(config.data_dir, 'storage');
    paths.push({ path: root, recursive: true, wharfOwned: true });
  }
  paths.push({ path: join(config.data_dir, 'secrets'), recursive: true, wharfOwned: true });
  // Key files the operator provides are reported by fsck and warned about, never changed: how
  // they are shared with the process (a group, a mounted secret) is the operator's decision.
  const signing = config.auth.token.signing_key_file;
  if (signing !== undefined) paths.push({ path: signing, recursive: false, wharfOwned: false });
  const encryption = config.secrets.encryption_key_file;
  if (encryption !== undefined) paths.push({ path: encryption, recursive: false, wharfOwned: false });
  return paths;
}

/**
 * Makes every file and directory below the embedded database's directory private. PGlite gives
 * the files of a new database the modes of its bundled template (0666), whatever the umask.
 */
export async function secureEmbeddedDatabase(config: WharfConfig): Promise<void> {
  if (!usesEmbeddedDatabase(config)) return;
  for await (const loose of findLooseModes(join(config.data_dir, 'pg'), true)) await makePrivate(loose);
}

/**
 * At start: makes the directories Wharf owns private (one level: a private directory keeps
 * others out of everything below it) and warns about what it changed and about operator key
 * files that others may read.
 */
export async function securePrivatePaths(config: WharfConfig, logger: Logger): Promise<void> {
  const paths = privatePaths(config);
  const owned = paths.filter((p) => p.wharfOwned).map((p) => p.path);
  for (const fixed of await tightenModes(owned)) {
    logger.warn(
      { path: fixed.path, was: formatMode(fixed.mode) },
      'made private (others could read it); run "wharf fsck --repair" to fix the files below it',
    );
  }
  for (const p of paths.filter((q) => !q.wharfOwned)) {
    for await (const loose of findLooseModes(p.path, false)) {
      logger.warn(
        { path: loose.path, mode: formatMode(loose.mode) },
        'key file readable by group or others; make it 0600 (chmod go-rwx)',
      );
    }
  }
}
