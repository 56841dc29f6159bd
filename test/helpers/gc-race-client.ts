import type { PoolBlob, RaceImage } from './gc-race-images.js';
import { digestOf, OCI_MANIFEST, type OciClient } from './oci-client.js';

// One worker's /v2 client in the GC race (gc-race.ts): pushes blobs the ways real clients do
// (HEAD and skip when present, cross-repository mount, monolithic and chunked uploads), puts the
// manifest, deletes, and pulls back what was acknowledged. Answers that mean "GC took a blob or
// a session you relied on" become RestartPush; anything else unexpected fails the race with the
// exchange in the message.

/** Counted outcomes of the race; `restarts` by the error code that caused them. */
export interface RaceCounters {
  pushes: number;
  deletes: number;
  restarts: Record<string, number>;
  mounted: number;
  skippedExisting: number;
  uploaded: number;
  pulls: number;
  /**
   * 5xx answers, which are never right: recorded (and the push started again) so that the race
   * still runs to its verdict on the store; the scenario fails on them afterwards.
   */
  serverErrors: string[];
}

/** The push must start again from its first blob (a real client's behaviour on these codes). */
export class RestartPush extends Error {}

/**
 * Codes GC may legitimately cause. With no grace period every upload session is "abandoned", so a
 * session can be purged under a request that already read it: that request then finds its data
 * gone (BLOB_UPLOAD_INVALID "start the upload again", RANGE_INVALID) rather than the session
 * (BLOB_UPLOAD_UNKNOWN). A client starts such a push again.
 */
const RESTART_CODES = new Set([
  'BLOB_UNKNOWN',
  'MANIFEST_BLOB_UNKNOWN',
  'BLOB_UPLOAD_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'RANGE_INVALID',
]);

type BlobMethod = 'head-then-upload' | 'mount' | 'monolithic' | 'chunked';
const BLOB_METHODS: BlobMethod[] = ['head-then-upload', 'mount', 'monolithic', 'chunked'];

export class RaceClient {
  readonly counters: RaceCounters;
  readonly #client: OciClient;
  readonly #repositories: string[];
  readonly #random: () => number;

  constructor(client: OciClient, repositories: string[], counters: RaceCounters, random: () => number) {
    this.#client = client;
    this.#repositories = repositories;
    this.counters = counters;
    this.#random = random;
  }

  /** Blobs (each its own way), then the manifest under `tag`; resolves when acknowledged (201). */
  async pushImage(repository: string, tag: string, image: RaceImage): Promise<void> {
    for (const blob of image.blobs) {
      const method = BLOB_METHODS[Math.floor(this.#random() * BLOB_METHODS.length)] as BlobMethod;
      await this.#pushBlob(repository, blob, method);
    }
    const res = await this.#client.request('PUT', `/v2/${repository}/manifests/${tag}`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: image.bytes,
    });
    await this.#expect(res, 201, 'manifest PUT');
    if (res.headers.get('docker-content-digest') !== image.digest) {
      throw new Error(`manifest PUT ${repository}:${tag} acknowledged another digest`);
    }
  }

  /** Deletes the tag's manifest by digest (/v2) or only the tag (API), at random. */
  async deleteTag(repository: string, tag: string, image: RaceImage): Promise<void> {
    if (this.#random() < 0.5) {
      const res = await this.#client.request('DELETE', `/v2/${repository}/manifests/${image.digest}`);
      await this.#expect(res, 202, 'manifest DELETE');
      return;
    }
    const [project, ...rest] = repository.split('/');
    const name = encodeURIComponent(encodeURIComponent(rest.join('/')));
    const path = `/api/v2.0/projects/${project}/repositories/${name}/artifacts/${image.digest}/tags/${tag}`;
    await this.#expect(await this.#client.request('DELETE', path), 200, 'tag DELETE');
  }

  /** Whether the tag still answers (after a deletion whose answer was an error). */
  async tagExists(repository: string, tag: string): Promise<boolean> {
    const res = await this.#client.request('HEAD', `/v2/${repository}/manifests/${tag}`, {
      headers: { accept: OCI_MANIFEST },
    });
    if (res.status !== 200 && res.status !== 404) throw new Error(`HEAD ${repository}:${tag}: ${res.status}`);
    return res.status === 200;
  }

  /** Pulls an acknowledged push back by tag: manifest bytes and every blob, checked by digest. */
  async pullBack(repository: string, tag: string, image: RaceImage): Promise<void> {
    await verifyPull(this.#client, repository, tag, image);
    this.counters.pulls++;
  }

  async #pushBlob(repository: string, blob: PoolBlob, method: BlobMethod): Promise<void> {
    const { digest } = blob.descriptor;
    if (method === 'head-then-upload') {
      const head = await this.#client.request('HEAD', `/v2/${repository}/blobs/${digest}`);
      if (head.status === 200) {
        this.counters.skippedExisting++;
        return;
      }
      if (head.status !== 404) throw new Error(`HEAD blob ${digest}: ${head.status}`);
      return this.#monolithic(repository, blob);
    }
    if (method === 'mount') return this.#mount(repository, blob);
    if (method === 'chunked') return this.#chunked(repository, blob);
    return this.#monolithic(repository, blob);
  }

  async #monolithic(repository: string, blob: PoolBlob): Promise<void> {
    const res = await this.#client.request(
      'POST',
      `/v2/${repository}/blobs/uploads/?digest=${blob.descriptor.digest}`,
      { headers: { 'content-type': 'application/octet-stream' }, body: blob.bytes },
    );
    await this.#expect(res, 201, 'monolithic upload');
    this.counters.uploaded++;
  }

  /** Mounts from another repository; when that one does not hold it, uploads into the session. */
  async #mount(repository: string, blob: PoolBlob): Promise<void> {
    const others = this.#repositories.filter((r) => r !== repository);
    const from = others[Math.floor(this.#random() * others.length)] ?? repository;
    const { digest } = blob.descriptor;
    const res = await this.#client.request(
      'POST',
      `/v2/${repository}/blobs/uploads/?mount=${digest}&from=${from}`,
    );
    if (res.status === 201) {
      this.counters.mounted++;
      return;
    }
    await this.#expect(res, 202, 'mount');
    await this.#finishUpload(this.#sessionUrl(res, `digest=${digest}`), 'PUT', blob.bytes);
  }

  async #chunked(repository: string, blob: PoolBlob): Promise<void> {
    const start = await this.#client.request('POST', `/v2/${repository}/blobs/uploads/`);
    await this.#expect(start, 202, 'upload start');
    const patch = await this.#client.request('PATCH', this.#sessionUrl(start), {
      headers: { 'content-type': 'application/octet-stream' },
      body: blob.bytes,
    });
    await this.#expect(patch, 202, 'upload PATCH');
    await this.#finishUpload(this.#sessionUrl(patch, `digest=${blob.descriptor.digest}`), 'PUT');
  }

  async #finishUpload(url: string, method: 'PUT', body?: Buffer): Promise<void> {
    const res = await this.#client.request(method, url, {
      headers: { 'content-type': 'application/octet-stream' },
      ...(body && { body }),
    });
    await this.#expect(res, 201, 'upload PUT');
    this.counters.uploaded++;
  }

  #sessionUrl(res: Response, query?: string): string {
    const path = this.#client.location(res);
    return query ? `${path}${path.includes('?') ? '&' : '?'}${query}` : path;
  }

  /** Expected status, else RestartPush for a code GC may cause, else a failure naming the request. */
  async #expect(res: Response, status: number, what: string): Promise<void> {
    if (res.status === status) {
      await res.body?.cancel();
      return;
    }
    const text = await res.text().catch(() => '');
    const code = errorCode(text);
    if (code && RESTART_CODES.has(code)) {
      this.counters.restarts[code] = (this.counters.restarts[code] ?? 0) + 1;
      throw new RestartPush(`${what}: ${code}`);
    }
    if (res.status >= 500) {
      this.counters.serverErrors.push(`${what} ${res.status}: ${text.slice(0, 300)}`);
      throw new RestartPush(`${what}: ${res.status}`);
    }
    throw new Error(`${what} ${res.url}: expected ${status}, got ${res.status}: ${text.slice(0, 400)}`);
  }
}

function errorCode(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/**
 * Pulls `repository:tag` and asserts it is `image`: the manifest's digest and bytes, then every
 * blob it references, whose bytes must hash to their digest. Throws a message naming what differs.
 */
export async function verifyPull(
  client: OciClient,
  repository: string,
  tag: string,
  image: RaceImage,
): Promise<void> {
  const res = await client.request('GET', `/v2/${repository}/manifests/${tag}`, {
    headers: { accept: OCI_MANIFEST },
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) {
    throw new Error(`pull ${repository}:${tag}: ${res.status} ${bytes.toString('utf8').slice(0, 300)}`);
  }
  if (res.headers.get('docker-content-digest') !== image.digest || !bytes.equals(image.bytes)) {
    throw new Error(`pull ${repository}:${tag}: got ${digestOf(bytes)}, last acknowledged ${image.digest}`);
  }
  for (const blob of image.blobs) {
    const { digest } = blob.descriptor;
    const got = await client.request('GET', `/v2/${repository}/blobs/${digest}`);
    const body = Buffer.from(await got.arrayBuffer());
    if (got.status !== 200 || digestOf(body) !== digest) {
      throw new Error(
        `blob ${digest} of ${repository}:${tag} (acknowledged ${image.digest}): ${got.status}, ` +
          `${body.length} bytes ${got.status === 200 ? `hashing to ${digestOf(body)}` : body.toString('utf8').slice(0, 300)}`,
      );
    }
  }
}
