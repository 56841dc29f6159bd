import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectStatus, OCI_MANIFEST, OciClient } from '../helpers/oci-client.js';
import { runCli } from '../helpers/run-cli.js';
import { adminAuth, startWharf, type WharfHandle } from '../helpers/server.js';

// `wharf gc` on an embedded store (the server stopped: it holds the embedded database): the dry
// run names what the real run then deletes, the flags reach the engine, bad flags are usage
// errors, and `wharf fsck` finds the store clean afterwards.

describe.runIf(process.env.WHARF_TEST_DATABASE !== 'postgres')('wharf gc', () => {
  let root: string | undefined;
  let wharf: WharfHandle | undefined;

  afterAll(async () => {
    await wharf?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  }, 60_000);

  it('collects with the same engine, dry run first, and leaves fsck clean', async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-gc-cli-'));
    const dataDir = join(root, 'data');
    wharf = await startWharf({ dataDir, extraConfig: 'gc:\n  grace_period_minutes: 0' });
    const client = new OciClient(wharf.url, adminAuth(wharf));
    const kept = await client.pushImage('test/cli', 'v1');
    const dropped = await client.pushImage('test/cli', 'v2');
    await client.pushImage('test/cli', 'tmp');
    await expectStatus(await client.request('DELETE', `/v2/test/cli/manifests/${dropped.digest}`), 202);
    await expectStatus(await client.request('DELETE', `/v2/test/cli/manifests/tmp`), 202);
    await wharf.stop();
    const args = ['--config', wharf.configPath, '--data-dir', dataDir];

    const usage = await runCli(['gc', ...args, '--workers', '9']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('workers must be an integer from 1 to 5');

    const dry = await runCli(['gc', ...args, '--dry-run', '--delete-untagged']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^wharf gc: dry run: would delete 6 blobs \(.*\) and 1 manifest;/m);
    expect(dry.stderr).toContain('blobs eligible for deletion');

    const plain = await runCli(['gc', ...args]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^wharf gc: deleted 3 blobs \(.*\) and 0 manifests/m);
    const untagged = await runCli(['gc', ...args, '--delete-untagged', '--workers', '2']);
    expect(untagged.code, untagged.stderr).toBe(0);
    expect(untagged.stdout).toMatch(/^wharf gc: deleted 3 blobs \(.*\) and 1 manifest/m);

    const check = await runCli(['fsck', ...args]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('the store is clean');

    await wharf.restart();
    const res = await client.request('GET', `/v2/test/cli/manifests/v1`, {
      headers: { accept: OCI_MANIFEST },
    });
    await expectStatus(res, 200);
    expect(res.headers.get('docker-content-digest')).toBe(kept.digest);
  });
});
