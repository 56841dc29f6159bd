import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciClient } from '../helpers/oci-client.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { runCli } from '../helpers/run-cli.js';
import { startS3Server, type S3ServerHandle } from '../helpers/s3-server.js';
import { adminAuth, startWharf, type WharfHandle } from '../helpers/server.js';

// Two Wharf instances on one PostgreSQL and one S3 bucket (s3rver: see s3-driver.test.ts for what
// it does not cover): a chunked upload whose chunks alternate between the instances, a monolithic
// push, pulls of both through the other instance, and `wharf fsck` on the bucket afterwards.

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('registry on S3 storage, two instances', () => {
  let s3: S3ServerHandle;
  let pg: PostgresServer;
  let a: WharfHandle;
  let b: WharfHandle;

  beforeAll(async () => {
    [s3, pg] = await Promise.all([startS3Server(), startPostgres()]);
    const databaseUrl = await pg.createDatabase();
    const extraConfig = [
      'storage:',
      '  s3:',
      `    endpoint: "${s3.endpoint}"`,
      `    bucket: ${s3.bucket}`,
      `    access_key: ${s3.accessKey}`,
      `    secret_key: ${s3.secretKey}`,
      '    path_style: true',
      '    multipart_chunk_size: 5242880',
      '    root_directory: registry',
    ].join('\n');
    a = await startWharf({ databaseUrl, extraConfig });
    b = await startWharf({ databaseUrl, extraConfig, projects: [] });
  });
  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await Promise.allSettled([s3?.stop(), pg?.stop()]);
  });

  it('takes chunks of one upload on alternating instances and serves the blob from either', async () => {
    const chunks = [randomBytes(6 * 1024 * 1024), randomBytes(300 * 1024), randomBytes(5 * 1024 * 1024 + 7)];
    const whole = Buffer.concat(chunks);
    const digest = sha256(whole);
    const instances = [a, b, a];
    let offset = 0;
    const start = await fetch(`${a.url}/v2/test/s3/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: adminAuth(a) },
    });
    expect(start.status).toBe(202);
    let location = start.headers.get('location') as string;
    for (const [i, chunk] of chunks.entries()) {
      const target = instances[i] as WharfHandle;
      const res = await fetch(new URL(location, target.url), {
        method: 'PATCH',
        headers: {
          authorization: adminAuth(target),
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.length - 1}`,
        },
        body: chunk,
      });
      expect(res.status, await res.clone().text()).toBe(202);
      offset += chunk.length;
      expect(res.headers.get('range')).toBe(`0-${offset - 1}`);
      location = res.headers.get('location') as string;
    }
    const put = new URL(location, b.url);
    put.searchParams.set('digest', digest);
    const done = await fetch(put, { method: 'PUT', headers: { authorization: adminAuth(b) } });
    expect(done.status, await done.clone().text()).toBe(201);
    for (const instance of [a, b]) {
      const got = await fetch(`${instance.url}/v2/test/s3/blobs/${digest}`, {
        headers: { authorization: adminAuth(instance) },
      });
      expect(got.status).toBe(200);
      expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(digest);
      const part = await fetch(`${instance.url}/v2/test/s3/blobs/${digest}`, {
        headers: { authorization: adminAuth(instance), range: 'bytes=6291000-6291999' },
      });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(6291000, 6292000))).toBe(true);
    }
  });

  it('pushes an image through one instance, pulls it through the other, and fsck finds the bucket clean', async () => {
    const pushed = await new OciClient(a.url, adminAuth(a)).pushImage('test/s3-image', 'v1', { layers: 2 });
    const manifest = await fetch(`${b.url}/v2/test/s3-image/manifests/v1`, {
      headers: { authorization: adminAuth(b), accept: OCI_MANIFEST },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(pushed.digest);
    for (const layer of pushed.layers) {
      const blob = await fetch(`${b.url}/v2/test/s3-image/blobs/${layer.digest}`, {
        headers: { authorization: adminAuth(b) },
      });
      expect(sha256(Buffer.from(await blob.arrayBuffer()))).toBe(layer.digest);
    }
    // The bytes are in the bucket, under the root directory, and not on the instance's disk.
    const inBucket = await readdir(join(s3.dataDir, s3.bucket, 'registry'), { recursive: true });
    expect(inBucket.some((name) => name.includes(pushed.layers[0]?.digest.slice(7) ?? '?'))).toBe(true);
    expect(existsSync(join(a.dataDir, 'storage', 'blobs'))).toBe(false);
    const fsck = await runCli(['fsck', '--config', a.configPath, '--data-dir', a.dataDir]);
    expect(fsck.stdout, fsck.stderr).toMatch(/the store is clean/);
    expect(fsck.code).toBe(0);
  });
});
