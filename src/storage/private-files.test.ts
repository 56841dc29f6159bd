import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findLooseModes, formatMode, makePrivate, tightenModes } from './private-files.js';

describe('private files', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'wharf-private-'));
    await chmod(base, 0o700);
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  async function collect(path: string, recursive: boolean) {
    const found = [];
    for await (const loose of findLooseModes(path, recursive)) found.push(loose);
    return found;
  }

  it('finds files and directories group or others may access, not private ones, not through links', async () => {
    await mkdir(join(base, 'open'), { mode: 0o700 });
    await chmod(join(base, 'open'), 0o755);
    await writeFile(join(base, 'open', 'shared'), 'x');
    await chmod(join(base, 'open', 'shared'), 0o640);
    await writeFile(join(base, 'own'), 'x');
    await chmod(join(base, 'own'), 0o600);
    const outside = await mkdtemp(join(tmpdir(), 'wharf-outside-'));
    try {
      await chmod(outside, 0o755);
      await symlink(outside, join(base, 'link'));
      const found = await collect(base, true);
      expect(found.map((f) => [f.path, formatMode(f.mode), f.directory])).toEqual(
        expect.arrayContaining([
          [join(base, 'open'), '0755', true],
          [join(base, 'open', 'shared'), '0640', false],
        ]),
      );
      expect(found).toHaveLength(2);
      expect(await collect(join(base, 'open'), false)).toHaveLength(1);
      expect(await collect(join(base, 'missing'), true)).toEqual([]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('takes group and other bits away and keeps the owner bits', async () => {
    const file = join(base, 'key');
    await writeFile(file, 'x');
    await chmod(file, 0o744);
    const [loose] = await collect(file, false);
    if (!loose) throw new Error('expected a loose mode');
    await makePrivate(loose);
    expect((await stat(file)).mode & 0o777).toBe(0o700);
    await chmod(base, 0o755);
    expect((await tightenModes([base, join(base, 'missing')])).map((c) => c.path)).toEqual([base]);
    expect((await stat(base)).mode & 0o777).toBe(0o700);
  });
});
