import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  expectStatus,
  imageManifest,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  OciClient,
  type Descriptor,
} from '../helpers/oci-client.js';
import { runCli } from '../helpers/run-cli.js';
import { adminAuth, type WharfHandle } from '../helpers/server.js';
import { startTestWharf } from '../helpers/test-wharf.js';

// Issue #10, point 19: `wharf fsck --repair` never makes things worse. A corrupt layer shared by
// two images in two repositories is quarantined (moved, not deleted), both images are named as
// unpullable, the store is not called clean, and one push of the image heals both repositories.
// Bytes no metadata names are reported as unreferenced, not as corrupt.

function blobPath(dataDir: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Pushes an image made of `layer` and a config of its own; returns the manifest's digest. */
async function pushImage(oci: OciClient, repository: string, tag: string, layer: Buffer): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', repository }));
  const configDescriptor: Descriptor = {
    mediaType: OCI_CONFIG,
    digest: await oci.pushBlob(repository, config),
    size: config.length,
  };
  const layerDescriptor: Descriptor = {
    mediaType: OCI_LAYER,
    digest: await oci.pushBlob(repository, layer),
    size: layer.length,
  };
  const manifest = imageManifest({
    mediaType: OCI_MANIFEST,
    config: configDescriptor,
    layers: [layerDescriptor],
  });
  return oci.putManifest(repository, tag, manifest, OCI_MANIFEST);
}

describe('wharf fsck --repair', () => {
  let wharf: WharfHandle | undefined;
  afterAll(async () => {
    await wharf?.stop();
  });

  it('quarantines a corrupt shared layer, names both images, and one re-push heals both', async () => {
    wharf = await startTestWharf();
    const w = wharf;
    const oci = new OciClient(w.url, adminAuth(w));
    const layer = randomBytes(4096);
    const layerDigest = digestOf(layer);
    const first = await pushImage(oci, 'test/app', 'v1', layer);
    const second = await pushImage(oci, 'ops/tool', 'v2', layer);
    await w.kill();

    // One copy of the layer serves both images: corrupt it (same size, other bytes).
    const layerFile = blobPath(w.dataDir, layerDigest);
    await writeFile(layerFile, randomBytes(layer.length));
    // Bytes no metadata names, old enough to be past the grace period. They hash to nothing
    // they are named after either: still unreferenced, not corrupt.
    const stray = randomBytes(100);
    const strayDigest = digestOf(randomBytes(100));
    const strayFile = blobPath(w.dataDir, strayDigest);
    await mkdir(join(strayFile, '..'), { recursive: true });
    await writeFile(strayFile, stray);
    const old = new Date(Date.now() - 3 * 3_600_000);
    await utimes(strayFile, old, old);

    const cli = (...extra: string[]) =>
      runCli(['fsck', ...extra, '--config', w.configPath, '--data-dir', w.dataDir]);
    const check = await cli();
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(new RegExp(`problem +corrupt-blob +${layerDigest}`));
    expect(check.stdout).toMatch(new RegExp(`problem +broken-artifact +test/app@${first}  tags v1;`));
    expect(check.stdout).toMatch(new RegExp(`problem +broken-artifact +ops/tool@${second}  tags v2;`));
    expect(check.stdout).toMatch(new RegExp(`problem +unreferenced-blob +${strayDigest}`));
    expect(check.stdout).not.toMatch(new RegExp(`corrupt-blob +${strayDigest}`));
    expect(check.stdout).not.toMatch(/clean/);

    const repair = await cli('--repair');
    expect(repair.code).toBe(1); // the two images still need a push
    expect(repair.stdout).toMatch(
      new RegExp(`repaired +corrupt-blob +${layerDigest} .*moved to quarantine/`),
    );
    expect(repair.stdout).toMatch(
      new RegExp(`problem +broken-artifact +test/app@${first}  tags v1;.*${layerDigest}`),
    );
    expect(repair.stdout).toMatch(
      new RegExp(`problem +broken-artifact +ops/tool@${second}  tags v2;.*${layerDigest}`),
    );
    expect(repair.stdout).toMatch(new RegExp(`repaired +unreferenced-blob +${strayDigest}`));
    expect(repair.stdout).not.toMatch(/clean/);
    // Moved, not deleted: the corrupt bytes and the stray ones wait in the quarantine.
    expect(await exists(layerFile)).toBe(false);
    expect(await exists(strayFile)).toBe(false);
    const quarantined = await filesBelow(join(w.dataDir, 'storage', 'quarantine'));
    const hex = layerDigest.slice('sha256:'.length);
    const corruptCopy = quarantined.find((f) => f.includes(hex));
    expect(corruptCopy).toBeDefined();
    expect((await readFile(corruptCopy as string)).equals(layer)).toBe(false);
    expect(quarantined.some((f) => f.includes(strayDigest.slice('sha256:'.length)))).toBe(true);

    // Still broken, and said so, on the next check.
    const recheck = await cli();
    expect(recheck.code).toBe(1);
    expect(recheck.stdout).toMatch(new RegExp(`broken-artifact +ops/tool@${second}`));
    expect(recheck.stdout).not.toMatch(/clean/);

    // A client pushing the first image again is told the layer is missing and uploads it.
    await w.restart();
    const head = await oci.request('HEAD', `/v2/test/app/blobs/${layerDigest}`);
    expect(head.status).toBe(404);
    const mount = await oci.request('POST', `/v2/test/app/blobs/uploads/?mount=${layerDigest}&from=ops/tool`);
    expect(mount.status).toBe(202); // no mount of missing bytes: an upload session instead
    expect(await pushImage(oci, 'test/app', 'v1', layer)).toBe(first);

    // The one good copy serves both repositories.
    for (const [repository, tag] of [
      ['test/app', 'v1'],
      ['ops/tool', 'v2'],
    ] as const) {
      const blob = await oci.request('GET', `/v2/${repository}/blobs/${layerDigest}`);
      await expectStatus(blob, 200);
      expect(Buffer.from(await blob.arrayBuffer()).equals(layer)).toBe(true);
      await expectStatus(
        await oci.request('GET', `/v2/${repository}/manifests/${tag}`, { headers: { accept: OCI_MANIFEST } }),
        200,
      );
    }
    await w.kill();
    const healed = await cli();
    expect(healed.stdout).not.toMatch(/broken-artifact|corrupt-blob|missing-blob/);
    expect(healed.stdout).toMatch(/the store is clean/);
    expect(healed.code).toBe(0);
  });
});
