import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  opendir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertOffset,
  assertValidKey,
  isValidKey,
  resolveRange,
  StorageNotFoundError,
  StorageRangeError,
  type ByteRange,
  type ObjectCopy,
  type ObjectInfo,
  type StorageDriver,
} from './driver.js';
import { copyWithBufferRing } from './copy.js';

// Temporary files live in one directory under the root, so that a rename onto the final key stays
// on one filesystem (atomic). A leading dot makes it a name no valid key segment can spell, so no
// key can ever read, list, overwrite or delete a temporary file.
const TMP_DIR = '.tmp';

// Measured with 1 GiB streams of 64 KiB chunks: a 1 MiB buffer lets the write stream gather many
// chunks into one writev and the read stream issue few large reads. The defaults (16 KiB for
// writes, 64 KiB for reads) were 1.5-5x slower whenever the disk itself was not the limit.
const IO_BUFFER = 1 << 20;

// Another process may remove an empty directory (delete prunes parents) between our mkdir and our
// create/rename inside it; a few attempts make that race harmless without looping forever.
const PARENT_ATTEMPTS = 5;

// Stored bytes are the owner's only (files 0600, directories 0700), whatever the process umask:
// see private-files.ts. The umask can only take bits away from these, never add them.
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** Keys are files under the root directory: `<root>/<key>`, with '/' as the separator. */
export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly #root: string;
  readonly #rootPrefix: string;
  readonly #tmp: string;

  constructor(rootDir: string) {
    this.#root = resolve(rootDir);
    this.#rootPrefix = this.#root.endsWith(sep) ? this.#root : this.#root + sep;
    this.#tmp = join(this.#root, TMP_DIR);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const path = this.#path(key);
    try {
      const info = await stat(path);
      // A directory is a prefix of other keys, not an object.
      return info.isFile() ? { size: info.size, modifiedAt: info.mtime } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const { handle, start, end } = await this.#openRange(key, range);
    if (start === end) {
      // createReadStream cannot express an empty range (its end is inclusive).
      await handle.close();
      return Readable.from([], { objectMode: false });
    }
    return handle.createReadStream({ start, end: end - 1, highWaterMark: IO_BUFFER });
  }

  /**
   * Opens the file and resolves the range. Opening first makes a missing key fail here rather
   * than later as a stream error, and pins the file: a concurrent overwrite or move cannot change
   * the bytes read through this handle.
   */
  async #openRange(
    key: string,
    range?: ByteRange,
  ): Promise<{ handle: FileHandle; start: number; end: number }> {
    const path = this.#path(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (isMissing(err)) throw new StorageNotFoundError(key);
      throw err;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new StorageNotFoundError(key);
      return { handle, ...resolveRange(range, info.size) };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async openCopy(key: string, range?: ByteRange): Promise<ObjectCopy> {
    const { handle, start, end } = await this.#openRange(key, range);
    let closed = false;
    const close = async () => {
      if (!closed) {
        closed = true;
        await handle.close();
      }
    };
    return {
      length: end - start,
      async copyTo(destination) {
        try {
          await copyWithBufferRing(
            async (buffer, length, position) => (await handle.read(buffer, 0, length, position)).bytesRead,
            start,
            end - start,
            destination,
          );
        } finally {
          await close();
        }
      },
      close,
    };
  }

  async write(key: string, body: Readable | Uint8Array): Promise<number> {
    const target = this.#path(key);
    const tmp = join(this.#tmp, randomUUID());
    let written: number;
    let created: string | undefined;
    try {
      const [handle] = await withParent(tmp, () => open(tmp, 'wx', FILE_MODE));
      written = await fill(handle, body);
      [, created] = await withParent(target, () => rename(tmp, target));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await syncDirectories(dirname(target), created);
    return written;
  }

  async writeAt(key: string, offset: number, body: Readable): Promise<number> {
    const path = this.#path(key);
    assertOffset(offset);
    let handle: FileHandle;
    let isNew = false;
    let created: string | undefined;
    try {
      handle = await open(path, 'r+');
    } catch (err) {
      if (!isMissing(err)) throw err;
      if (offset !== 0) throw new StorageRangeError(`cannot write at ${offset}: ${key} does not exist`);
      // No O_TRUNC: if another process created it meanwhile, the truncate below still applies.
      [handle, created] = await withParent(path, () =>
        open(path, constants.O_RDWR | constants.O_CREAT, FILE_MODE),
      );
      isNew = true;
    }
    let written: number;
    try {
      const { size } = await handle.stat();
      if (offset > size) {
        throw new StorageRangeError(`cannot write at ${offset}: ${key} has ${size} bytes`);
      }
      // Whatever lies at or after offset is the rest of an interrupted write: discard it first so
      // a shorter body cannot leave stale bytes behind it.
      if (size > offset) await handle.truncate(offset);
      written = await streamInto(handle, offset, body);
    } finally {
      // The write stream closes the handle itself; closing again is then a no-op.
      await handle.close();
    }
    if (isNew) await syncDirectories(dirname(path), created);
    return offset + written;
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.#path(from);
    const target = this.#path(to);
    const info = await lstat(source).catch(nullIfMissing);
    if (!info?.isFile()) throw new StorageNotFoundError(from);
    const [, created] = await withParent(target, async () => {
      try {
        await rename(source, target);
      } catch (err) {
        // ENOENT means either the target's directory vanished (retry) or the source did.
        if (isMissing(err) && !(await lstat(source).catch(nullIfMissing))) {
          throw new StorageNotFoundError(from);
        }
        throw err;
      }
    });
    await syncDirectories(dirname(target), created);
    if (dirname(source) !== dirname(target)) {
      await syncDirectory(dirname(source));
      await this.#pruneEmptyParents(source);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      await unlink(path);
    } catch (err) {
      // EISDIR: the key names a prefix, which holds no object of its own.
      if (isMissing(err) || errorCode(err) === 'EISDIR') return;
      throw err;
    }
    await this.#pruneEmptyParents(path);
  }

  async deletePrefix(prefix: string): Promise<void> {
    const path = this.#path(prefix);
    const info = await lstat(path).catch(nullIfMissing);
    // Only keys below prefix/ go; an object stored at the prefix itself is not below it.
    if (!info?.isDirectory()) return;
    // Renaming the tree away first makes it vanish at once for readers and listers, and a crash
    // during the recursive removal leaves the rest in the temporary area, not under a live key.
    const trash = join(this.#tmp, `${randomUUID()}.deleted`);
    await mkdir(this.#tmp, { recursive: true, mode: DIR_MODE });
    try {
      await rename(path, trash);
    } catch (err) {
      if (isMissing(err)) return; // someone else deleted it first
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
    await this.#pruneEmptyParents(path);
  }

  async *list(prefix: string): AsyncGenerator<string> {
    yield* walk(this.#path(prefix), prefix);
  }

  async check(): Promise<void> {
    const probe = join(this.#tmp, `check-${randomUUID()}`);
    const content = Buffer.from(probe);
    await mkdir(this.#tmp, { recursive: true, mode: DIR_MODE });
    try {
      await writeFile(probe, content, { mode: FILE_MODE });
      if (!(await readFile(probe)).equals(content)) {
        throw new Error(`storage check failed: ${probe} read back different bytes`);
      }
    } finally {
      await rm(probe, { force: true });
    }
  }

  /**
   * Removes temporary files and half-deleted trees older than maxAgeMs, left behind by a process
   * that died mid-write. Not part of StorageDriver: garbage collection calls it for this driver.
   * Live writes touch their file continuously, so a generous age never removes one in progress.
   */
  async removeStaleTemporaries(maxAgeMs: number): Promise<number> {
    const cutoff = Date.now() - maxAgeMs;
    let removed = 0;
    let dir;
    try {
      dir = await opendir(this.#tmp);
    } catch (err) {
      if (isMissing(err)) return 0;
      throw err;
    }
    for await (const entry of dir) {
      const path = join(this.#tmp, entry.name);
      const info = await lstat(path).catch(nullIfMissing);
      if (info && info.mtimeMs < cutoff) {
        await rm(path, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  #path(key: string): string {
    assertValidKey(key);
    const path = join(this.#root, key);
    // Unreachable for a valid key; kept so that a future change to key validation cannot
    // silently open the rest of the filesystem.
    if (!path.startsWith(this.#rootPrefix)) throw new Error(`storage key escapes the root: ${key}`);
    return path;
  }

  /** Removes directories left empty by a deletion, up to (never including) the root. */
  async #pruneEmptyParents(path: string): Promise<void> {
    for (let dir = dirname(path); dir.startsWith(this.#rootPrefix); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') return; // ENOTEMPTY/EEXIST: still in use, stop here
      }
    }
  }
}

/** Fills a new, empty file with body, makes it durable and closes it. */
async function fill(handle: FileHandle, body: Readable | Uint8Array): Promise<number> {
  try {
    if (body instanceof Uint8Array) {
      await handle.writeFile(body);
      await handle.sync();
      return body.byteLength;
    }
    return await streamInto(handle, 0, body);
  } finally {
    await handle.close();
  }
}

/**
 * Streams body into the file at `start` with backpressure and fsyncs it. The stream closes the
 * handle when it finishes or fails.
 */
async function streamInto(handle: FileHandle, start: number, body: Readable): Promise<number> {
  const out = handle.createWriteStream({ start, highWaterMark: IO_BUFFER, flush: true });
  await pipeline(body, out);
  return out.bytesWritten;
}

/**
 * Runs op, which creates an entry in dirname(path); when that directory is missing, creates it
 * and tries again. Returns op's result and the topmost directory that mkdir created, if any.
 */
async function withParent<T>(path: string, op: () => Promise<T>): Promise<[T, string | undefined]> {
  let created: string | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return [await op(), created];
    } catch (err) {
      if (errorCode(err) !== 'ENOENT' || attempt >= PARENT_ATTEMPTS) throw err;
      try {
        const made = await mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
        // Keep the topmost directory made by any attempt: its entry must be made durable too.
        if (made !== undefined && (created === undefined || made.length < created.length)) created = made;
      } catch (mkdirErr) {
        // Another process (an instance on the same shared storage) may be removing the empty
        // parents this mkdir walks through at the very moment: ENOENT or ENOTDIR then means
        // "try again", like the ENOENT of the operation itself.
        const code = errorCode(mkdirErr);
        if ((code !== 'ENOENT' && code !== 'ENOTDIR') || attempt >= PARENT_ATTEMPTS) throw mkdirErr;
      }
    }
  }
}

/**
 * Makes a new directory entry in `dir` durable. When directories were created on the way
 * (`created` is the topmost), their own entries in their parents must be made durable too, or
 * a crash could lose the whole branch along with the file in it.
 */
async function syncDirectories(dir: string, created: string | undefined): Promise<void> {
  await syncDirectory(dir);
  if (created === undefined) return;
  const stop = dirname(created);
  for (let d = dir; d !== stop && d !== dirname(d); d = dirname(d)) await syncDirectory(dirname(d));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Yields the key of every regular file below dir; symbolic links are not followed. */
async function* walk(dir: string, keyPrefix: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await opendir(dir);
  } catch (err) {
    if (isMissing(err)) return; // no such prefix, or removed while we were walking
    throw err;
  }
  for await (const entry of entries) {
    const key = `${keyPrefix}/${entry.name}`;
    // Names no key can have (an NFS ".nfs1234" placeholder, anything put there by hand) would
    // make every caller's key handling fail: they are not objects of this store.
    if (!isValidKey(key)) continue;
    if (entry.isDirectory()) yield* walk(join(dir, entry.name), key);
    else if (entry.isFile()) yield key;
  }
}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** ENOTDIR too: a path through a regular file ("a/b" where "a" is an object) names nothing. */
function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function nullIfMissing(err: unknown): null {
  if (isMissing(err)) return null;
  throw err;
}
