import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'vitest';
import { freePort, waitForHttp } from '../helpers/ports.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, imageManifest } from '../helpers/oci-client.js';
import type { RemoteRegistry } from '../../src/replication/remote/index.js';

// Shared by the remote-registry client tests: content pushed through the client itself, a stream
// that breaks midway (an interrupted chunk), and Debian's docker-registry with htpasswd Basic auth.

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface PushedTestImage {
  digest: string;
  bytes: Buffer;
  config: { digest: string; size: number; bytes: Buffer };
  layer: { digest: string; size: number; bytes: Buffer };
}

/** Pushes a config, one random layer and an OCI manifest under `tag`, with the client. */
export async function pushTestImage(
  client: RemoteRegistry,
  name: string,
  tag: string,
  layerSize = 64 * 1024,
): Promise<PushedTestImage> {
  const configBytes = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }),
  );
  const layerBytes = randomBytes(layerSize);
  const config = { digest: sha256(configBytes), size: configBytes.length, bytes: configBytes };
  const layer = { digest: sha256(layerBytes), size: layerBytes.length, bytes: layerBytes };
  await client.pushBlob(name, config.digest, configBytes, configBytes.length);
  await client.pushBlob(name, layer.digest, Readable.from([layerBytes]), layerBytes.length);
  const bytes = imageManifest({
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
    layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
  });
  const digest = await client.putManifest(name, tag, bytes, OCI_MANIFEST);
  expect(digest).toBe(sha256(bytes));
  return { digest, bytes, config, layer };
}

/** Reads a stream whole (test-sized blobs only). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Sends `bytes[0..breakAt)` and then fails, as a sender whose connection dies midway. */
export function breakingStream(bytes: Buffer, breakAt: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(bytes.subarray(0, breakAt));
        setTimeout(() => this.destroy(new Error('connection lost (test)')), 200);
      }
    },
  });
}

export interface HtpasswdRegistry {
  url: string;
  stop(): Promise<void>;
}

export const PEER_USER = 'peer';
export const PEER_PASSWORD = 'peer-Secret-1';
/** bcrypt (cost 5, kept low so that each request's check is quick) of PEER_PASSWORD. */
const PEER_HASH = '$2b$05$oC8wUIXDQK8D88PtACMAte7eJidFRyXODLZQlnkxPW34gGyn7b.By';

/** docker-registry on loopback requiring HTTP Basic (htpasswd) for every request. */
export async function startHtpasswdRegistry(): Promise<HtpasswdRegistry> {
  const port = await freePort();
  const base = await mkdtemp(join(tmpdir(), 'wharf-htpasswd-registry-'));
  await writeFile(join(base, 'htpasswd'), `${PEER_USER}:${PEER_HASH}\n`);
  await writeFile(
    join(base, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(base, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'auth:',
      '  htpasswd:',
      '    realm: wharf-test',
      `    path: ${join(base, 'htpasswd')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(base, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/v2/`, 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`docker-registry (htpasswd) did not start: ${String(err)}\n${stderr}`, { cause: err });
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(base, { recursive: true, force: true });
    },
  };
}

export interface TlsRegistry {
  url: string;
  /** The self-signed certificate the registry serves: the CA bundle that trusts it. */
  certificate: string;
  stop(): Promise<void>;
}

/** docker-registry on loopback over HTTPS with a fresh self-signed certificate for 127.0.0.1. */
export async function startTlsRegistry(): Promise<TlsRegistry> {
  const port = await freePort();
  const base = await mkdtemp(join(tmpdir(), 'wharf-tls-registry-'));
  const cert = join(base, 'cert.pem');
  const key = join(base, 'key.pem');
  await new Promise<void>((resolve, reject) => {
    const openssl = spawn(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    openssl.once('error', reject);
    openssl.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`openssl exited with ${code}`)),
    );
  });
  await writeFile(
    join(base, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(base, 'storage')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  tls:',
      `    certificate: ${cert}`,
      `    key: ${key}`,
      '',
    ].join('\n'),
  );
  const child = spawn('docker-registry', ['serve', join(base, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const url = `https://127.0.0.1:${port}`;
  // Any TCP answer means it listens; the TLS handshake is the test's business.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry (TLS) did not start:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    certificate: await readFile(cert, 'utf8'),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(base, { recursive: true, force: true });
    },
  };
}
