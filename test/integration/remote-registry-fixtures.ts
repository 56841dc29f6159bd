import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'vitest';
import { startDockerRegistry } from '../helpers/docker-registry.js';
import { selfSignedLoopbackCertificate } from '../helpers/tls.js';
import {
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  imageIndex,
  imageManifest,
} from '../helpers/oci-client.js';
import type { RemoteRegistry } from '../../src/remote/index.js';

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

export interface PushedTestSignature {
  digest: string;
  bytes: Buffer;
  payload: Buffer;
  /** The referrers descriptor a registry should list for the subject. */
  descriptor: { mediaType: string; digest: string; size: number; artifactType: string };
}

export const TEST_SIGNATURE_TYPE = 'application/vnd.example.signature.v1';

/**
 * Pushes a signature-like artifact whose subject is `subject` (empty config, one payload layer).
 * `fallbackTag`: also keep the referrers fallback index tag, as clients do on a registry without
 * the referrers API (cosign on docker-registry).
 */
export async function pushTestSignature(
  client: RemoteRegistry,
  name: string,
  subject: PushedTestImage,
  options: { payloadSize?: number; fallbackTag?: boolean } = {},
): Promise<PushedTestSignature> {
  const empty = Buffer.from('{}');
  await client.pushBlob(name, sha256(empty), empty, empty.length);
  const payload = randomBytes(options.payloadSize ?? 100);
  await client.pushBlob(name, sha256(payload), payload, payload.length);
  const bytes = imageManifest({
    artifactType: TEST_SIGNATURE_TYPE,
    config: { mediaType: OCI_EMPTY, digest: sha256(empty), size: 2 },
    layers: [{ mediaType: OCI_LAYER, digest: sha256(payload), size: payload.length }],
    subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.bytes.length },
  });
  const digest = await client.putManifest(name, sha256(bytes), bytes, OCI_MANIFEST);
  const descriptor = {
    mediaType: OCI_MANIFEST,
    digest,
    size: bytes.length,
    artifactType: TEST_SIGNATURE_TYPE,
  };
  if (options.fallbackTag) {
    await client.putManifest(name, subject.digest.replace(':', '-'), imageIndex([descriptor]), OCI_INDEX);
  }
  return { digest, bytes, payload, descriptor };
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
  const base = await mkdtemp(join(tmpdir(), 'wharf-htpasswd-registry-'));
  const htpasswdFile = join(base, 'htpasswd');
  await writeFile(htpasswdFile, `${PEER_USER}:${PEER_HASH}\n`);
  const registry = await startDockerRegistry({ htpasswdFile });
  return {
    url: registry.url,
    async stop() {
      await registry.stop();
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
  const base = await mkdtemp(join(tmpdir(), 'wharf-tls-registry-'));
  const generated = await selfSignedLoopbackCertificate(base);
  const registry = await startDockerRegistry({
    tls: { certificate: generated.certPath, key: generated.keyPath },
  });
  return {
    url: registry.url,
    certificate: generated.cert,
    async stop() {
      await registry.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}
