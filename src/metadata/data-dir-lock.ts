import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';

// PGlite is an in-process database: two processes opening one data directory would corrupt it.
// A lock file holding the owner's pid keeps a second process out; a lock left by a process that
// no longer exists (kill -9) is taken over.

export class DataDirLockedError extends Error {
  constructor(path: string, pid: number) {
    super(`${path} is in use by process ${pid}; stop it first (the embedded database allows one process)`);
    this.name = 'DataDirLockedError';
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock; returns a function that releases it. */
export function lockDataDir(lockPath: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockPath, 'utf8') === String(process.pid)) unlinkSync(lockPath);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && processExists(owner)) {
        throw new DataDirLockedError(lockPath, owner);
      }
      unlinkSync(lockPath); // stale: its owner is gone
    }
  }
  throw new Error(`could not take the lock ${lockPath}`);
}
