import { chmod, lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OciClient } from '../helpers/oci-client.js';
import { runCli } from '../helpers/run-cli.js';
import { adminAuth, type WharfHandle } from '../helpers/server.js';
import { startTestWharf } from '../helpers/test-wharf.js';

// Issue #10, point 6: the embedded database (its WAL holds password and secret hashes), the
// stored blobs and the key files are the owner's only; `wharf fsck` reports what is not, and
// --repair fixes it.

/** Every path at or below `root` with its permission bits. */
async function modesBelow(root: string): Promise<{ path: string; mode: number; directory: boolean }[]> {
  const info = await lstat(root);
  const found = [{ path: root, mode: info.mode & 0o777, directory: info.isDirectory() }];
  if (info.isDirectory()) {
    for (const name of await readdir(root)) found.push(...(await modesBelow(join(root, name))));
  }
  return found;
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe('files are private', () => {
  let wharf: WharfHandle | undefined;
  const previousUmask = process.umask(0o022); // what a shell usually has: the server must not rely on it
  afterAll(async () => {
    process.umask(previousUmask);
    await wharf?.stop();
  });

  it('keeps the data directory, database, key files and blobs 0700/0600, and fsck reports a loosened one', async () => {
    wharf = await startTestWharf();
    const w = wharf;
    const oci = new OciClient(w.url, adminAuth(w));
    const image = await oci.pushImage('test/private-files', 'v1');

    const everything = await modesBelow(w.dataDir);
    const loose = everything.filter((e) => e.mode !== (e.directory ? 0o700 : 0o600));
    expect(loose.map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([]);
    const names = everything.map((e) => e.path);
    expect(names).toContain(join(w.dataDir, 'secrets', 'token-signing-key.pem'));
    expect(names).toContain(join(w.dataDir, 'secrets', 'encryption.key'));
    if (!w.databaseUrl) {
      expect(names.some((p) => p.startsWith(join(w.dataDir, 'pg', 'pg_wal')))).toBe(true);
    }
    const layerHex = image.layers[0]?.digest.slice('sha256:'.length) ?? '';
    const layerFile = join(w.dataDir, 'storage', 'blobs', 'sha256', layerHex.slice(0, 2), layerHex, 'data');
    expect(await modeOf(layerFile)).toBe(0o600);

    // Someone loosens a blob and the data directory; the start makes the directory private again
    // and fsck reports the file (below it) until --repair fixes it.
    await w.kill();
    await chmod(layerFile, 0o644);
    await chmod(w.dataDir, 0o755);
    await w.restart();
    expect(await modeOf(w.dataDir)).toBe(0o700);
    await w.kill();

    const check = await runCli(['fsck', '--config', w.configPath, '--data-dir', w.dataDir]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(new RegExp(`problem +loose-mode +${layerFile}  mode 0644`));
    expect(check.stdout).not.toMatch(/the store is clean/);
    expect(await modeOf(layerFile)).toBe(0o644); // a check alone changes nothing

    const repair = await runCli(['fsck', '--repair', '--config', w.configPath, '--data-dir', w.dataDir]);
    expect(repair.stdout).toMatch(new RegExp(`repaired +loose-mode +${layerFile}`));
    expect(await modeOf(layerFile)).toBe(0o600);
    const again = await runCli(['fsck', '--config', w.configPath, '--data-dir', w.dataDir]);
    expect(again.stdout).toMatch(/the store is clean/);
    expect(again.code).toBe(0);
  });
});
