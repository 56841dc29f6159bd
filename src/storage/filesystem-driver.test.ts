import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failingStream, listAll, readAll, storageDriverSuite, streamOf } from './driver.suite.js';
import { FilesystemDriver } from './filesystem-driver.js';

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'wharf-fs-driver-'));
}

storageDriverSuite('filesystem', async () => {
  const root = await tempRoot();
  return { driver: new FilesystemDriver(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('FilesystemDriver on disk', () => {
  let base: string;
  let root: string;
  let driver: FilesystemDriver;

  beforeEach(async () => {
    base = await tempRoot();
    root = join(base, 'root');
    await mkdir(root);
    driver = new FilesystemDriver(root);
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  async function tmpEntries(): Promise<string[]> {
    return readdir(join(root, '.tmp')).catch(() => []);
  }

  it('stores a key as the file <root>/<key>', async () => {
    await driver.write('a/b/c', Buffer.from('bytes'));
    expect(await readFile(join(root, 'a', 'b', 'c'), 'utf8')).toBe('bytes');
  });

  it('keeps stored bytes private (files 0600, directories 0700) even under a permissive umask', async () => {
    const previous = process.umask(0o022);
    try {
      await driver.write('blobs/sha256/ab/abcd/data', Buffer.from('whole'));
      await driver.writeAt('uploads/u1/data', 0, streamOf(Buffer.from('part')));
      await driver.move('uploads/u1/data', 'blobs/sha256/cd/cdef/data');
    } finally {
      process.umask(previous);
    }
    const modeOf = async (...path: string[]) => (await stat(join(root, ...path))).mode & 0o777;
    expect(await modeOf('blobs', 'sha256', 'ab', 'abcd', 'data')).toBe(0o600);
    expect(await modeOf('blobs', 'sha256', 'cd', 'cdef', 'data')).toBe(0o600);
    expect(await modeOf('blobs')).toBe(0o700);
    expect(await modeOf('blobs', 'sha256', 'ab', 'abcd')).toBe(0o700);
    expect(await modeOf('.tmp')).toBe(0o700);
  });

  it('creates its root when it does not exist yet', async () => {
    const fresh = new FilesystemDriver(join(base, 'not', 'yet'));
    await fresh.write('k', Buffer.from('v'));
    expect((await readAll(await fresh.read('k'))).toString()).toBe('v');
  });

  it('writes through temporary files on the same filesystem and leaves none behind', async () => {
    await driver.write('k/ok', streamOf(Buffer.alloc(100_000, 1)));
    await expect(driver.write('k/bad', failingStream(Buffer.alloc(100_000, 2), 50_000))).rejects.toThrow();
    expect((await stat(join(root, '.tmp'))).dev).toBe((await stat(root)).dev);
    expect(await tmpEntries()).toEqual([]);
    expect(await readdir(join(root, 'k'))).toEqual(['ok']);
  });

  it('removes directories that deletes leave empty, but never the root', async () => {
    await driver.write('x/y/z', Buffer.from('1'));
    await driver.write('x/w', Buffer.from('2'));
    await driver.delete('x/y/z');
    expect(await readdir(join(root, 'x'))).toEqual(['w']);
    await driver.delete('x/w');
    expect(await readdir(root)).toEqual(['.tmp']);
  });

  it('removes the directories a move empties', async () => {
    await driver.writeAt('uploads/session/data', 0, streamOf(Buffer.from('blob')));
    await driver.move('uploads/session/data', 'blobs/sha256/ab/abcd/data');
    await expect(stat(join(root, 'uploads'))).rejects.toThrow();
    expect(await readFile(join(root, 'blobs/sha256/ab/abcd/data'), 'utf8')).toBe('blob');
  });

  it('deletes a prefix without leaving its tree in the temporary area', async () => {
    for (const key of ['u/1/data', 'u/1/state', 'u/2/data']) await driver.write(key, Buffer.from(key));
    await driver.deletePrefix('u/1');
    expect(await readdir(join(root, 'u'))).toEqual(['2']);
    await driver.deletePrefix('u');
    expect(await tmpEntries()).toEqual([]);
    await expect(stat(join(root, 'u'))).rejects.toThrow();
  });

  it('lists neither files with names no key can have nor anything behind symbolic links', async () => {
    const outside = join(base, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret'), 'no');
    await driver.write('l/real', Buffer.from('yes'));
    await symlink(outside, join(root, 'l', 'dirlink'));
    await symlink(join(outside, 'secret'), join(root, 'l', 'filelink'));
    await writeFile(join(root, 'l', '.nfs000123'), 'placeholder');
    await writeFile(join(root, 'l', 'with space'), 'hand-made');
    expect(await listAll(driver.list('l'))).toEqual(['l/real']);
  });

  it('fails check() when the root cannot hold files', async () => {
    const file = join(base, 'a-file');
    await writeFile(file, 'not a directory');
    await expect(new FilesystemDriver(file).check()).rejects.toThrow();
    await expect(driver.check()).resolves.toBeUndefined();
    expect(await tmpEntries()).toEqual([]);
  });

  it('removes stale temporary files left by a crashed writer, but not recent ones', async () => {
    await mkdir(join(root, '.tmp', 'old-tree.deleted'), { recursive: true });
    await writeFile(join(root, '.tmp', 'old-tree.deleted', 'x'), 'x');
    await writeFile(join(root, '.tmp', 'old-file'), 'x');
    await writeFile(join(root, '.tmp', 'new-file'), 'x');
    const dayAgo = new Date(Date.now() - 24 * 3600 * 1000);
    await utimes(join(root, '.tmp', 'old-tree.deleted'), dayAgo, dayAgo);
    await utimes(join(root, '.tmp', 'old-file'), dayAgo, dayAgo);
    expect(await driver.removeStaleTemporaries(3600 * 1000)).toBe(2);
    expect(await tmpEntries()).toEqual(['new-file']);
    expect(await new FilesystemDriver(join(base, 'empty')).removeStaleTemporaries(0)).toBe(0);
  });
});
