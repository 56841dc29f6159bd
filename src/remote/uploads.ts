import type { Readable } from 'node:stream';
import { repositoryScope } from './auth.js';
import { RemoteError } from './errors.js';
import type { PeerHttp } from './http-client.js';
import { digestPath, repositoryPath } from './paths.js';
import { header, type HttpResponse } from './transport.js';

// Writing blobs to a peer: upload sessions (start, chunk, status, finish), cross-repository mount,
// and resuming a session after an interrupted chunk from the offset the peer says it holds.

export interface UploadSession {
  name: string;
  /** Absolute URL of the session, as the peer's last Location said (it may carry state). */
  location: string;
  /** Bytes the peer holds. */
  offset: number;
}

export type MountResult = { mounted: true; digest: string } | { mounted: false; session: UploadSession };

const OCTET = 'application/octet-stream';

function sessionFrom(http: PeerHttp, name: string, res: HttpResponse, fallback?: string): UploadSession {
  const location = header(res, 'location');
  if (!location && !fallback) {
    throw new RemoteError(
      'other',
      `the peer answered ${res.status} without a Location for the upload`,
      res.status,
    );
  }
  const base = fallback ?? http.resolve('/');
  return {
    name,
    location: new URL(location ?? base, base).toString(),
    offset: offsetOf(header(res, 'range')),
  };
}

/** `Range: 0-<last>` → the next offset; absent or `0-0` with no bytes is 0 (see uploadStatus). */
export function offsetOf(range: string | undefined): number {
  const m = /^(?:bytes=)?(\d+)-(-?\d+)$/.exec(range?.trim() ?? '');
  if (!m) return 0;
  const last = Number(m[2]);
  return last < 0 ? 0 : last + 1;
}

export async function startUpload(
  http: PeerHttp,
  name: string,
  signal?: AbortSignal,
): Promise<UploadSession> {
  const path = `${repositoryPath(name)}/blobs/uploads/`;
  const res = await http.expect(
    {
      method: 'POST',
      path,
      scopes: [repositoryScope(name, 'pull,push')],
      headers: { 'content-length': '0' },
      ...(signal && { signal }),
    },
    [202],
  );
  await res.body.dump();
  // A new session holds nothing, whatever a `Range: 0-0` says.
  return { ...sessionFrom(http, name, res), offset: 0 };
}

/**
 * POST ?mount=&from=: the peer links a blob it already has in `from` into `name`, with no bytes
 * sent. A peer that cannot (blob not there, no pull right on `from`) starts an upload instead.
 */
export async function mountBlob(
  http: PeerHttp,
  name: string,
  digest: string,
  from: string,
  signal?: AbortSignal,
): Promise<MountResult> {
  repositoryPath(from);
  const path = `${repositoryPath(name)}/blobs/uploads/?mount=${digestPath(digest)}&from=${encodeURIComponent(from)}`;
  const res = await http.expect(
    {
      method: 'POST',
      path,
      scopes: [repositoryScope(name, 'pull,push'), repositoryScope(from, 'pull')],
      headers: { 'content-length': '0' },
      ...(signal && { signal }),
    },
    [201, 202],
  );
  await res.body.dump();
  if (res.status === 201) return { mounted: true, digest: header(res, 'docker-content-digest') ?? digest };
  return { mounted: false, session: { ...sessionFrom(http, name, res), offset: 0 } };
}

/**
 * PATCH one chunk of `length` bytes at the session's offset. The body may be a stream: it is sent
 * once; if the request fails midway, ask uploadStatus where to resume.
 */
export async function uploadChunk(
  http: PeerHttp,
  session: UploadSession,
  body: Buffer | Readable,
  length: number,
  signal?: AbortSignal,
  options: { streamed?: boolean } = {},
): Promise<UploadSession> {
  if (length <= 0) return session;
  // streamed: the whole blob from offset 0 in this one request, sent as the spec's streamed
  // PATCH (no Content-Range), which a registry may hash natively as it arrives.
  const streamed = options.streamed === true && session.offset === 0;
  const res = await http.expect(
    {
      method: 'PATCH',
      path: session.location,
      scopes: [repositoryScope(session.name, 'pull,push')],
      headers: {
        'content-type': OCTET,
        'content-length': String(length),
        ...(!streamed && { 'content-range': `${session.offset}-${session.offset + length - 1}` }),
      },
      body,
      ...(signal && { signal }),
    },
    [202],
  );
  await res.body.dump();
  const next = sessionFrom(http, session.name, res, session.location);
  // A peer that leaves Range out has taken the whole chunk (the spec says it must send it).
  return header(res, 'range') === undefined ? { ...next, offset: session.offset + length } : next;
}

/** GET of the session: how many bytes the peer holds (the offset to resume from). */
export async function uploadStatus(
  http: PeerHttp,
  session: UploadSession,
  signal?: AbortSignal,
): Promise<UploadSession> {
  const res = await http.expect(
    {
      method: 'GET',
      path: session.location,
      scopes: [repositoryScope(session.name, 'pull,push')],
      ...(signal && { signal }),
    },
    [204, 200],
  );
  await res.body.dump();
  return sessionFrom(http, session.name, res, session.location);
}

/** PUT ?digest=: closes the session, with an optional last chunk; the peer verifies the digest. */
export async function finishUpload(
  http: PeerHttp,
  session: UploadSession,
  digest: string,
  last?: { body: Buffer | Readable; length: number },
  signal?: AbortSignal,
): Promise<string> {
  const url = new URL(session.location);
  url.searchParams.set('digest', digest);
  digestPath(digest);
  const res = await http.expect(
    {
      method: 'PUT',
      path: url.toString(),
      scopes: [repositoryScope(session.name, 'pull,push')],
      headers: {
        'content-type': OCTET,
        // No Content-Range: the spec does not define one for PUT, and some registries refuse it.
        'content-length': String(last?.length ?? 0),
      },
      body: last && last.length > 0 ? last.body : null,
      ...(signal && { signal }),
    },
    [201, 204],
  );
  await res.body.dump();
  return header(res, 'docker-content-digest') ?? digest;
}

/** DELETE of the session (an abandoned copy); a session the peer already forgot is fine. */
export async function cancelUpload(
  http: PeerHttp,
  session: UploadSession,
  signal?: AbortSignal,
): Promise<void> {
  const res = await http.send({
    method: 'DELETE',
    path: session.location,
    scopes: [repositoryScope(session.name, 'pull,push')],
    ...(signal && { signal }),
  });
  if (res.status >= 400 && res.status !== 404) throw await http.failure(res, 'DELETE of the upload session');
  await res.body.dump();
}
