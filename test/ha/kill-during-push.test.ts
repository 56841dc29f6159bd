import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TempDirs, sha256, verifyLayoutImage } from '../e2e/support.js';
import { generateImage, ociReference, presets, type GeneratedImage } from '../fixtures/image-generator.js';
import { clearBlobInfoCache, CommandError, run, skopeoCopy, skopeoInspectRaw } from '../helpers/clients.js';
import { startCluster, type Cluster, type ClusterInstance } from '../helpers/cluster.js';
import { expectStatus } from '../helpers/oci-client.js';

// kill -9 of the instance that is receiving a 300 MB layer, half-way through the push, through
// nginx. The instance is found by what it reads from its sockets (/proc/PID/io rchar): the one
// whose count grows by tens of MB is the one the layer streams into. skopeo (--retry-times 3, and
// if that gives up a second run, as a build would retry) must then complete the push through the
// other two instances; the image pulls back with every digest right, and `wharf fsck` finds the
// store clean: the dead instance's half upload is an open session (row + data), which fsck does
// not count as a problem (see src/services/fsck-service.ts: only upload data without a session
// row, older than the grace period, or a session whose data is gone, are problems).

const TOTAL_BYTES = 300 * 1024 * 1024;
/** Kill once the receiving instance has read this much (the layer is ~300 MB). */
const KILL_AFTER_BYTES = 48 * 1024 * 1024;

let cluster: Cluster;
const dirs = new TempDirs();
let layout: string;
let image: GeneratedImage;

beforeAll(async () => {
  [cluster] = await Promise.all([
    startCluster({ instances: 3, redis: 'plain', loadBalancer: 'nginx' }),
    (async () => {
      layout = await dirs.make('big-layout');
      image = await generateImage(
        layout,
        presets.large({ tag: 'big', totalBytes: TOTAL_BYTES, seed: 'ha-kill' }),
      );
    })(),
  ]);
});

afterAll(async () => {
  await dirs.removeAll();
  await cluster?.stop();
});

/** Bytes the process has read through read(2)-like calls, sockets included. */
async function bytesRead(pid: number): Promise<number> {
  try {
    const m = /^rchar:\s+(\d+)$/m.exec(await readFile(`/proc/${pid}/io`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

interface Attempt {
  ok: boolean;
  stderr: string;
}

/** skopeo copy with the client's own retries (the e2e helper runs skopeo with --retry-times 0). */
async function skopeoPushWithRetries(src: string, dest: string, policy: string): Promise<Attempt> {
  try {
    await run(
      'skopeo',
      [
        '--policy',
        policy,
        'copy',
        '--retry-times',
        '3',
        '--preserve-digests',
        '--dest-tls-verify=false',
        '--dest-creds',
        `${cluster.creds.username}:${cluster.creds.password}`,
        src,
        dest,
      ],
      { timeoutMs: 240_000 },
    );
    return { ok: true, stderr: '' };
  } catch (err) {
    if (err instanceof CommandError) return { ok: false, stderr: err.stderr };
    throw err;
  }
}

describe('kill -9 of the instance receiving a 300 MB layer', () => {
  test('the push completes through the others, the image pulls back intact, fsck is clean', async () => {
    const layer = image.layers[0];
    expect(layer?.size).toBeGreaterThan(TOTAL_BYTES);
    const policy = join(layout, '..', `policy-${Date.now()}.json`);
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const repository = 'test/ha-big';
    const dest = cluster.ref(repository, 'big');

    await clearBlobInfoCache();
    const baseline = new Map<ClusterInstance, number>();
    for (const instance of cluster.instances) baseline.set(instance, await bytesRead(instance.handle.pid()));
    let pushDone = false;
    const firstPush = skopeoPushWithRetries(ociReference(layout, 'big'), dest, policy).finally(() => {
      pushDone = true;
    });

    // Watch every instance's reads; kill the one the layer streams into, mid-stream.
    let victim: ClusterInstance | undefined;
    let readByVictim = 0;
    const deadline = Date.now() + 120_000;
    while (!victim && !pushDone && Date.now() < deadline) {
      for (const instance of cluster.instances) {
        const grown = (await bytesRead(instance.handle.pid())) - (baseline.get(instance) ?? 0);
        if (grown > KILL_AFTER_BYTES) {
          victim = instance;
          readByVictim = grown;
          break;
        }
      }
      if (!victim) await new Promise((r) => setTimeout(r, 20));
    }
    expect(victim, 'an instance was receiving the layer before the push finished').toBeDefined();
    const killed = victim as ClusterInstance;
    const killedPid = killed.handle.pid();
    // (Read before the kill: skopeo gives up the moment the connection breaks.)
    const runningAtKill = !pushDone;
    await killed.handle.kill();
    expect(killed.handle.exitStatus()?.signal).toBe('SIGKILL');
    console.log(
      `killed ${killed.name} (pid ${killedPid}) after it had read ${(readByVictim / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(runningAtKill, 'the push was still running when the instance died').toBe(true);
    expect(readByVictim, 'killed well before the whole layer was in').toBeLessThan((layer?.size ?? 0) / 2);

    const first = await firstPush;
    let attempts = 1;
    if (!first.ok) {
      // skopeo's own retries gave up (it does not retry every error): the build's second attempt.
      console.log(`skopeo --retry-times 3 failed, running it a second time:\n${first.stderr.slice(-1_000)}`);
      await clearBlobInfoCache();
      const second = await skopeoPushWithRetries(ociReference(layout, 'big'), dest, policy);
      attempts = 2;
      expect(second.ok, second.stderr).toBe(true);
    }
    console.log(`push completed after ${attempts} skopeo run(s)`);

    // The access log shows the cut upload: a request that reached the killed instance and got no
    // answer from it (nginx answers 502), then the layer arriving through the others.
    const log = await cluster.accessLog();
    const layerUploads = log.filter((e) => e.path.startsWith(`/v2/${repository}/blobs/uploads/`));
    const cut = layerUploads.filter((e) => e.status >= 500);
    console.log(`upload requests that failed at the kill: ${JSON.stringify(cut)}`);
    expect(cut.some((e) => e.upstream.split(', ').includes(`127.0.0.1:${killed.handle.port}`))).toBe(true);
    const finishedBy = layerUploads
      .filter((e) => e.method === 'PUT' && e.status === 201)
      .map((e) => e.instance);
    expect(finishedBy.length).toBeGreaterThan(0);
    expect(finishedBy).not.toContain(killed.name);

    // Pull it back through nginx: every digest checks out.
    expect(sha256(await skopeoInspectRaw(dest, { creds: cluster.creds }))).toBe(image.digest);
    const back = await dirs.make('big-back');
    await skopeoCopy(dest, ociReference(back, 'big'), {
      creds: cluster.creds,
      preserveDigests: true,
      timeoutMs: 240_000,
    });
    const reached = await verifyLayoutImage(back, 'big');
    expect(reached.sort()).toEqual([image.digest, image.config.digest, layer?.digest].sort());

    // The store is consistent. The killed upload stays an open session (its row and data), which
    // is not a problem; there must be nothing else either.
    const report = await cluster.fsck();
    console.log(report.stdout.trim());
    expect(report.code, `${report.stdout}\n${report.stderr}`).toBe(0);
    expect(report.stdout).toMatch(
      /fsck: \d+ blobs checked, 0 problem\(s\), 0 unrepaired — the store is clean/,
    );

    // The killed instance comes back on the shared state and serves the image.
    await killed.handle.restart();
    const res = await killed.client.request('HEAD', `/v2/${repository}/blobs/${layer?.digest ?? ''}`);
    await expectStatus(res, 200);
    expect(Number(res.headers.get('content-length'))).toBe(layer?.size);
  });
});
