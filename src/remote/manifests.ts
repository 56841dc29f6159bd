import { createHash } from 'node:crypto';
import { parseDigest } from '../domain/digest.js';
import {
  baseMediaType,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_INDEX,
  OCI_MANIFEST,
} from '../domain/media-types.js';
import { repositoryScope } from './auth.js';
import { RemoteError } from './errors.js';
import { readLimited, type PeerHttp } from './http-client.js';
import { referencePath, repositoryPath } from './paths.js';
import { header } from './transport.js';

// Manifests on a peer: read (bytes verified against their digest), stat, write, delete. Manifests
// are small and bounded, so they are the one thing the client holds in memory.

/** What the client accepts: OCI and Docker schema 2 manifests and indexes. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');
/** Larger than any real manifest; a peer sending more is refused rather than buffered. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface RemoteManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface ManifestStat {
  digest: string;
  mediaType: string;
  size: number;
}

function digestOf(bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Null when the peer has no such manifest (or repository). */
export async function getManifest(
  http: PeerHttp,
  name: string,
  reference: string,
  signal?: AbortSignal,
): Promise<RemoteManifest | null> {
  const path = `${repositoryPath(name)}/manifests/${referencePath(reference)}`;
  const res = await http.send({
    method: 'GET',
    path,
    scopes: [repositoryScope(name, 'pull')],
    headers: { accept: MANIFEST_ACCEPT },
    ...(signal && { signal }),
  });
  if (res.status === 404) {
    await res.body.dump();
    return null;
  }
  if (res.status !== 200) throw await http.failure(res, `GET ${http.display(path)}`);
  const length = Number(header(res, 'content-length') ?? 0);
  if (length > MAX_MANIFEST_BYTES) {
    res.body.destroy();
    throw new RemoteError('other', `GET ${http.display(path)}: manifest of ${length} bytes is too large`);
  }
  const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES + 1);
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new RemoteError(
      'other',
      `GET ${http.display(path)}: manifest larger than ${MAX_MANIFEST_BYTES} bytes`,
    );
  }
  const mediaType = manifestMediaType(header(res, 'content-type'), bytes);
  // The digest is computed, never trusted: by reference when it is one, else by the peer's header
  // algorithm (sha256 by default), and checked against both.
  const byReference = parseDigest(reference);
  const claimed = header(res, 'docker-content-digest');
  const algorithm = byReference.ok
    ? byReference.digest.algorithm
    : claimed?.startsWith('sha512:')
      ? 'sha512'
      : 'sha256';
  const digest = digestOf(bytes, algorithm);
  if (
    (byReference.ok && digest !== reference) ||
    (claimed && claimed.split(':')[0] === algorithm && claimed !== digest)
  ) {
    throw new RemoteError('other', `GET ${http.display(path)}: the manifest's bytes do not match its digest`);
  }
  return { bytes, mediaType, digest };
}

/** Digest, media type and size of a manifest, without its bytes; null when absent. */
export async function headManifest(
  http: PeerHttp,
  name: string,
  reference: string,
  signal?: AbortSignal,
): Promise<ManifestStat | null> {
  const path = `${repositoryPath(name)}/manifests/${referencePath(reference)}`;
  const res = await http.send({
    method: 'HEAD',
    path,
    scopes: [repositoryScope(name, 'pull')],
    headers: { accept: MANIFEST_ACCEPT },
    ...(signal && { signal }),
  });
  await res.body.dump();
  if (res.status === 404) return null;
  if (res.status !== 200) throw await http.failure(res, `HEAD ${http.display(path)}`);
  const digest = header(res, 'docker-content-digest');
  if (!digest) {
    // Some registries leave it out of HEAD: the bytes tell.
    const manifest = await getManifest(http, name, reference, signal);
    if (!manifest) return null;
    return { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.bytes.length };
  }
  return {
    digest,
    mediaType: baseMediaType(header(res, 'content-type')) ?? '',
    size: Number(header(res, 'content-length') ?? 0),
  };
}

export interface PutManifestAnswer {
  /** The digest the peer computed. */
  digest: string;
  /** A header of the peer's answer (lower-case name). */
  header(name: string): string | undefined;
}

/** PUT by tag or digest, with `headers` added to the request. */
export async function putManifest(
  http: PeerHttp,
  name: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
  signal?: AbortSignal,
  headers: Record<string, string> = {},
): Promise<PutManifestAnswer> {
  const path = `${repositoryPath(name)}/manifests/${referencePath(reference)}`;
  const res = await http.expect(
    {
      method: 'PUT',
      path,
      scopes: [repositoryScope(name, 'pull,push')],
      headers: { ...headers, 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
      ...(signal && { signal }),
    },
    [200, 201, 202],
  );
  await res.body.dump();
  const expected = digestOf(bytes);
  const answered = header(res, 'docker-content-digest');
  if (answered && answered !== expected && answered.startsWith('sha256:')) {
    throw new RemoteError(
      'other',
      `PUT ${http.display(path)}: the peer stored digest ${answered}, not ${expected}`,
    );
  }
  return { digest: answered ?? expected, header: (h) => header(res, h) };
}

/**
 * DELETE of a manifest by digest (the manifest and its tags go) or of a tag (only the tag goes,
 * where the peer supports it). Returns false when there was nothing to delete.
 */
export async function deleteManifest(
  http: PeerHttp,
  name: string,
  reference: string,
  signal?: AbortSignal,
  headers: Record<string, string> = {},
): Promise<{ deleted: boolean; header(name: string): string | undefined }> {
  const path = `${repositoryPath(name)}/manifests/${referencePath(reference)}`;
  const res = await http.send({
    method: 'DELETE',
    path,
    scopes: [repositoryScope(name, 'delete')],
    headers,
    ...(signal && { signal }),
  });
  const answer = (deleted: boolean) => ({ deleted, header: (h: string) => header(res, h) });
  if (res.status === 404) {
    await res.body.dump();
    return answer(false);
  }
  if (res.status !== 202 && res.status !== 200 && res.status !== 204) {
    throw await http.failure(res, `DELETE ${http.display(path)}`);
  }
  await res.body.dump();
  return answer(true);
}

/** The media type from Content-Type, or from the `mediaType` field when the header is generic. */
function manifestMediaType(contentType: string | undefined, bytes: Buffer): string {
  const base = baseMediaType(contentType);
  if (base && base !== 'application/json' && base !== 'application/octet-stream') return base;
  try {
    const field = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof field === 'string') return field;
  } catch {
    // Not JSON: the peer sent something that is no manifest; leave the type to the caller.
  }
  return base ?? '';
}
