import type { Readable } from 'node:stream';
import { openBlob, statBlob, type BlobStat, type BlobStream } from './blobs.js';
import type { LocalBlobReader, RemoteRegistryConfig, RemoteRegistryType } from './config.js';
import { RemoteError } from './errors.js';
import { PeerHttp } from './http-client.js';
import { listerFor, type Lister } from './listing.js';
import {
  deleteManifest,
  getManifest,
  headManifest,
  putManifest,
  type ManifestStat,
  type PutManifestAnswer,
  type RemoteManifest,
} from './manifests.js';
import { listReferrers, type Referrers } from './referrers.js';
import { Transport } from './transport.js';
import {
  cancelUpload,
  finishUpload,
  mountBlob,
  startUpload,
  uploadChunk,
  uploadStatus,
  type MountResult,
  type UploadSession,
} from './uploads.js';

// A client of another registry, for replication in both directions. One instance per peer (it
// owns a connection pool and a token cache): create it from the endpoint's settings, close it
// when done. Every failure is a RemoteError; `err.retryable` says "the peer is down, try later".

export interface PingResult {
  /** How the peer authenticates /v2: none, Basic, or Bearer tokens. */
  auth: 'none' | 'basic' | 'bearer';
}

export class RemoteRegistry {
  readonly type: RemoteRegistryType;
  readonly url: string;
  readonly #transport: Transport;
  readonly #http: PeerHttp;
  readonly #lister: Lister;
  readonly #localBlobs: LocalBlobReader | undefined;

  constructor(config: RemoteRegistryConfig) {
    this.#localBlobs = config.localBlobs;
    this.url = normaliseUrl(config.url);
    this.type = config.type;
    this.#transport = new Transport(config);
    this.#http = new PeerHttp(this.url, this.#transport, config.credential ?? null);
    this.#lister = listerFor(config.type, this.#http, config.pageSize);
  }

  /**
   * Reachable, speaks the OCI API, and accepts the credential (a token for no scope is issued and
   * accepted; for `harbor`, its management API answers too). Throws a RemoteError saying which.
   */
  async ping(signal?: AbortSignal): Promise<PingResult> {
    await this.#http.auth.probe(signal);
    const res = await this.#http.expect(
      { method: 'GET', path: '/v2/', scopes: [], ...(signal && { signal }) },
      [200],
    );
    await res.body.dump();
    if (this.type === 'harbor') {
      const api = await this.#transport.send({
        method: 'GET',
        url: `${this.url}/api/v2.0/ping`,
        ...(signal && { signal }),
      });
      await api.body.dump();
      if (api.status !== 200) {
        throw new RemoteError(
          api.status >= 500 ? 'unreachable' : 'other',
          `GET ${this.url}/api/v2.0/ping answered ${api.status}: not a Harbor-compatible API (use type docker-registry)`,
          api.status,
        );
      }
    }
    return { auth: this.#http.auth.scheme ?? 'none' };
  }

  repositories(signal?: AbortSignal): AsyncGenerator<string> {
    return this.#lister.repositories(signal);
  }

  tags(name: string, signal?: AbortSignal): AsyncGenerator<string> {
    return this.#lister.tags(name, signal);
  }

  tagDigests(name: string, signal?: AbortSignal): Promise<Map<string, string>> {
    return this.#lister.tagDigests(name, signal);
  }

  getManifest(name: string, reference: string, signal?: AbortSignal): Promise<RemoteManifest | null> {
    return getManifest(this.#http, name, reference, signal);
  }

  headManifest(name: string, reference: string, signal?: AbortSignal): Promise<ManifestStat | null> {
    return headManifest(this.#http, name, reference, signal);
  }

  /** PUT by tag or digest; returns the digest the peer computed. */
  async putManifest(
    name: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<string> {
    return (await putManifest(this.#http, name, reference, bytes, mediaType, signal)).digest;
  }

  /** PUT with extra request headers; the answer's headers can be read. */
  putManifestWith(
    name: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<PutManifestAnswer> {
    return putManifest(this.#http, name, reference, bytes, mediaType, signal, headers);
  }

  /** By digest: the manifest and its tags; by tag: only the tag (where the peer supports it). */
  async deleteManifest(name: string, reference: string, signal?: AbortSignal): Promise<boolean> {
    return (await deleteManifest(this.#http, name, reference, signal)).deleted;
  }

  /** DELETE with extra request headers; the answer's headers can be read. */
  deleteManifestWith(
    name: string,
    reference: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<{ deleted: boolean; header(name: string): string | undefined }> {
    return deleteManifest(this.#http, name, reference, signal, headers);
  }

  statBlob(name: string, digest: string, signal?: AbortSignal): Promise<BlobStat | null> {
    return statBlob(this.#http, name, digest, signal);
  }

  async openBlob(
    name: string,
    digest: string,
    options: { offset?: number; signal?: AbortSignal } = {},
  ): Promise<BlobStream> {
    if (this.#localBlobs) {
      const offset = options.offset ?? 0;
      options.signal?.throwIfAborted();
      const { stream, size } = await this.#localBlobs(name, digest, offset);
      // As a request would be, the stream is cut when the copy is stopped.
      options.signal?.addEventListener('abort', () => stream.destroy(abortReason(options.signal)), {
        once: true,
      });
      return { stream, size, offset };
    }
    return openBlob(this.#http, name, digest, options);
  }

  referrers(
    name: string,
    digest: string,
    options: { artifactType?: string; signal?: AbortSignal } = {},
  ): Promise<Referrers> {
    return listReferrers(this.#http, name, digest, options);
  }

  startUpload(name: string, signal?: AbortSignal): Promise<UploadSession> {
    return startUpload(this.#http, name, signal);
  }

  mountBlob(name: string, digest: string, from: string, signal?: AbortSignal): Promise<MountResult> {
    return mountBlob(this.#http, name, digest, from, signal);
  }

  uploadChunk(
    session: UploadSession,
    body: Buffer | Readable,
    length: number,
    signal?: AbortSignal,
    options: { streamed?: boolean } = {},
  ): Promise<UploadSession> {
    return uploadChunk(this.#http, session, body, length, signal, options);
  }

  uploadStatus(session: UploadSession, signal?: AbortSignal): Promise<UploadSession> {
    return uploadStatus(this.#http, session, signal);
  }

  finishUpload(
    session: UploadSession,
    digest: string,
    last?: { body: Buffer | Readable; length: number },
    signal?: AbortSignal,
  ): Promise<string> {
    return finishUpload(this.#http, session, digest, last, signal);
  }

  cancelUpload(session: UploadSession, signal?: AbortSignal): Promise<void> {
    return cancelUpload(this.#http, session, signal);
  }

  /** A whole blob in one request (POST, then PUT with the body and the digest). */
  async pushBlob(
    name: string,
    digest: string,
    body: Buffer | Readable,
    length: number,
    signal?: AbortSignal,
  ): Promise<string> {
    const session = await this.startUpload(name, signal);
    return this.finishUpload(session, digest, { body, length }, signal);
  }

  close(): Promise<void> {
    return this.#transport.close();
  }
}

/** http(s) URL without a trailing slash; anything else is refused. */
export function normaliseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RemoteError('other', `invalid registry URL "${url.slice(0, 200)}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new RemoteError('other', `registry URL must be http or https, not ${parsed.protocol}`);
  }
  if (parsed.username || parsed.password)
    throw new RemoteError('other', 'registry URL must not carry credentials');
  if (parsed.search || parsed.hash)
    throw new RemoteError('other', 'registry URL must not have a query or fragment');
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error('aborted');
}
