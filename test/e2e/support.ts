import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { expect } from 'vitest';
import { disposeClientSandbox } from '../helpers/clients.js';
import { REF_NAME_ANNOTATION, type Descriptor } from '../fixtures/image-generator.js';
import type { E2ETarget } from './target.js';

// Checks shared by the end-to-end tests: digests recomputed from bytes (never taken from a tool's
// own report alone), OCI layouts read back, and manifests fetched over HTTP with their headers.

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** sha256 of a file, streamed (layers can be hundreds of MB). */
export async function fileDigest(path: string, options: { gunzip?: boolean } = {}): Promise<string> {
  const hash = createHash('sha256');
  const source = createReadStream(path);
  const stream = options.gunzip ? source.pipe(createGunzip()) : source;
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** Temporary directories that one test file removes in its afterAll. */
export class TempDirs {
  private readonly dirs: string[] = [];

  /** Lower-case names: podman names an image pulled from oci:DIR after DIR, and names are lower case. */
  async make(prefix: string): Promise<string> {
    const dir = join(tmpdir(), `wharf-e2e-${prefix}-${randomUUID().slice(0, 8)}`);
    await mkdir(dir);
    this.dirs.push(dir);
    return dir;
  }

  /** Also removes the clients' configuration directory, which lives as long as a test file. */
  async removeAll(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    await disposeClientSandbox();
  }
}

export interface ParsedManifest {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Array<Descriptor & { platform?: { os: string; architecture: string; variant?: string } }>;
}

export function parseManifest(raw: Buffer): ParsedManifest {
  return JSON.parse(raw.toString('utf8')) as ParsedManifest;
}

export function blobFile(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
}

/** The descriptor tagged `tag` in an OCI layout's index.json. */
export async function layoutDescriptor(layoutDir: string, tag: string): Promise<Descriptor> {
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: Array<Descriptor & { annotations?: Record<string, string> }>;
  };
  const found = index.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === tag);
  expect(found, `tag ${tag} in ${layoutDir}/index.json`).toHaveLength(1);
  return found[0]!;
}

/**
 * Every blob under blobs/sha256 hashes to its name, and the manifest tagged `tag` (with, for an
 * index, its children) is complete: the set of digests it reaches, manifests included.
 */
export async function verifyLayoutImage(layoutDir: string, tag: string): Promise<string[]> {
  const names = await readdir(join(layoutDir, 'blobs', 'sha256'));
  for (const name of names)
    expect(await fileDigest(join(layoutDir, 'blobs', 'sha256', name))).toBe(`sha256:${name}`);
  const root = await layoutDescriptor(layoutDir, tag);
  const reached: string[] = [];
  const walk = async (descriptor: Descriptor) => {
    reached.push(descriptor.digest);
    const raw = await readFile(blobFile(layoutDir, descriptor.digest));
    expect(raw.length).toBe(descriptor.size);
    const manifest = parseManifest(raw);
    for (const child of manifest.manifests ?? []) await walk(child);
    for (const blob of [...(manifest.config ? [manifest.config] : []), ...(manifest.layers ?? [])]) {
      expect(names).toContain(blob.digest.replace(/^sha256:/, ''));
      reached.push(blob.digest);
    }
  };
  await walk(root);
  return reached;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export interface ManifestResponse {
  status: number;
  contentType: string | null;
  dockerContentDigest: string | null;
  body: Buffer;
}

/**
 * GET /v2/NAME/manifests/REF straight over HTTP, answering a Bearer challenge with the target's
 * credentials if there is one: what the clients see, headers included.
 */
export async function getManifest(
  target: E2ETarget,
  name: string,
  reference: string,
): Promise<ManifestResponse> {
  const url = `${target.url}/v2/${target.namespace}/${name}/manifests/${reference}`;
  const basic = target.creds
    ? `Basic ${Buffer.from(`${target.creds.username}:${target.creds.password}`).toString('base64')}`
    : undefined;
  const get = (authorization?: string) =>
    fetch(url, {
      headers: { Accept: MANIFEST_ACCEPT, ...(authorization ? { Authorization: authorization } : {}) },
      signal: AbortSignal.timeout(30_000),
    });
  let res = await get(basic);
  const challenge = res.headers.get('www-authenticate') ?? '';
  if (res.status === 401 && /^Bearer /i.test(challenge)) {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const tokenUrl = new URL(params.realm ?? '');
    for (const key of ['service', 'scope']) if (params[key]) tokenUrl.searchParams.set(key, params[key]);
    const tokenRes = await fetch(tokenUrl, {
      headers: basic ? { Authorization: basic } : {},
      signal: AbortSignal.timeout(30_000),
    });
    expect(tokenRes.status, `token from ${tokenUrl.href}`).toBe(200);
    const token = (await tokenRes.json()) as { token?: string; access_token?: string };
    res = await get(`Bearer ${token.token ?? token.access_token ?? ''}`);
  }
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    dockerContentDigest: res.headers.get('docker-content-digest'),
    body: Buffer.from(await res.arrayBuffer()),
  };
}

/** The registry serves exactly these manifest bytes, with their media type and digest in the headers. */
export async function expectManifestServed(
  target: E2ETarget,
  name: string,
  reference: string,
  expected: { digest: string; mediaType: string },
): Promise<void> {
  const res = await getManifest(target, name, reference);
  expect(res.status, `GET manifest ${name}:${reference}`).toBe(200);
  expect(sha256(res.body)).toBe(expected.digest);
  expect(res.dockerContentDigest).toBe(expected.digest);
  expect(res.contentType).toBe(expected.mediaType);
}
