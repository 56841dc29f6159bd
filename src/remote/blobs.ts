import { pipeline, Transform, type Readable } from 'node:stream';
import { repositoryScope } from './auth.js';
import { RemoteError } from './errors.js';
import type { PeerHttp } from './http-client.js';
import { digestPath, repositoryPath } from './paths.js';
import { header } from './transport.js';

// Blobs on a peer: stat (HEAD) and reading as a stream, from an offset when resuming. Bytes are
// never collected here; the caller pipes the stream to its destination and verifies the digest.

export interface BlobStat {
  size: number;
}

export interface BlobStream {
  /** The bytes from `offset` to the end. */
  stream: Readable;
  /** The blob's full size. */
  size: number;
  /** Where `stream` starts. */
  offset: number;
}

/** Null when the peer has no such blob in that repository. */
export async function statBlob(
  http: PeerHttp,
  name: string,
  digest: string,
  signal?: AbortSignal,
): Promise<BlobStat | null> {
  const path = `${repositoryPath(name)}/blobs/${digestPath(digest)}`;
  const res = await http.send({
    method: 'HEAD',
    path,
    scopes: [repositoryScope(name, 'pull')],
    ...(signal && { signal }),
  });
  await res.body.dump();
  if (res.status === 404) return null;
  if (res.status !== 200) throw await http.failure(res, `HEAD ${http.display(path)}`);
  return { size: Number(header(res, 'content-length') ?? 0) };
}

/**
 * Opens a blob for reading from `offset` (a Range request). A peer that ignores Range and sends
 * the whole blob is handled by skipping the first `offset` bytes as they stream by.
 */
export async function openBlob(
  http: PeerHttp,
  name: string,
  digest: string,
  options: { offset?: number; signal?: AbortSignal } = {},
): Promise<BlobStream> {
  const offset = options.offset ?? 0;
  const path = `${repositoryPath(name)}/blobs/${digestPath(digest)}`;
  const res = await http.send({
    method: 'GET',
    path,
    scopes: [repositoryScope(name, 'pull')],
    headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
    ...(options.signal && { signal: options.signal }),
  });
  if (res.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header(res, 'content-range') ?? '');
    if (!range || Number(range[1]) !== offset) {
      res.body.destroy();
      throw new RemoteError(
        'other',
        `GET ${http.display(path)}: unexpected Content-Range for offset ${offset}`,
        206,
      );
    }
    return { stream: res.body, size: Number(range[3]), offset };
  }
  if (res.status === 416) {
    await res.body.dump();
    throw new RemoteError('other', `GET ${http.display(path)}: offset ${offset} is beyond the blob`, 416);
  }
  if (res.status !== 200) throw await http.failure(res, `GET ${http.display(path)}`);
  const size = Number(header(res, 'content-length') ?? NaN);
  if (offset === 0) return { stream: res.body, size, offset };
  // pipeline, not pipe: an error of the response reaches the reader.
  return { stream: pipeline(res.body, skipBytes(offset), () => undefined), size, offset };
}

function skipBytes(count: number): Transform {
  let left = count;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (left >= chunk.length) {
        left -= chunk.length;
        return done();
      }
      const rest = chunk.subarray(left);
      left = 0;
      done(null, rest);
    },
  });
}
