import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import {
  digestOf,
  expectOciError,
  expectStatus,
  uniqueRepo,
  useTestRegistry,
  type Algorithm,
} from '../helpers/oci-client.js';

// Blob uploads: every way the spec allows to push a blob, and every way to get it wrong.

const { client } = useTestRegistry();

const UPLOAD_PATH = /^\/v2\/[a-z0-9/-]+\/blobs\/uploads\/[0-9a-f-]{36}$/;

/** A body sent with chunked transfer encoding (no Content-Length), in several pieces. */
function streamOf(bytes: Uint8Array, pieces = 3): ReadableStream<Uint8Array> {
  const size = Math.ceil(bytes.length / pieces);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, at + size));
      at += size;
    },
  });
}

async function patchChunk(location: string, bytes: Uint8Array, start: number): Promise<Response> {
  return client.request('PATCH', location, {
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': `${start}-${start + bytes.length - 1}`,
    },
    body: bytes,
  });
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

async function expectBlob(repo: string, bytes: Uint8Array, algorithm: Algorithm = 'sha256'): Promise<void> {
  const digest = digestOf(bytes, algorithm);
  const res = await client.request('GET', `/v2/${repo}/blobs/${digest}`);
  await expectStatus(res, 200);
  expect(res.headers.get('docker-content-digest')).toBe(digest);
  expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
}

function expectCreated(res: Response, repo: string, digest: string): void {
  expect(res.status).toBe(201);
  expect(res.headers.get('location')).toBe(`/v2/${repo}/blobs/${digest}`);
  expect(res.headers.get('docker-content-digest')).toBe(digest);
}

describe('monolithic uploads', () => {
  it('POST ?digest= with the body is 201 with Location and Docker-Content-Digest', async () => {
    const repo = uniqueRepo('up');
    const bytes = randomBytes(4096);
    const digest = digestOf(bytes);
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expectCreated(res, repo, digest);
    await expectBlob(repo, bytes);
  });

  it('POST ?digest= with content that does not match is 400 DIGEST_INVALID and stores nothing', async () => {
    const repo = uniqueRepo('up');
    const claimed = digestOf(randomBytes(10));
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${claimed}`, {
      body: randomBytes(10),
    });
    await expectOciError(res, 400, 'DIGEST_INVALID');
    // Not even the repository was created.
    await expectOciError(await client.request('GET', `/v2/${repo}/blobs/${claimed}`), 404, 'NAME_UNKNOWN');
  });

  it('POST ?digest= with a malformed digest is 400 DIGEST_INVALID', async () => {
    const res = await client.request('POST', `/v2/${uniqueRepo('up')}/blobs/uploads/?digest=sha256:zz`, {
      body: randomBytes(10),
    });
    await expectOciError(res, 400, 'DIGEST_INVALID');
  });

  it('POST then a single PUT with the whole body', async () => {
    const repo = uniqueRepo('up');
    const post = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
    await expectStatus(post, 202);
    const location = client.location(post);
    expect(location).toMatch(UPLOAD_PATH);
    expect(post.headers.get('docker-upload-uuid')).toBe(location.split('/').pop());
    expect(post.headers.get('range')).toBe('0-0');

    const bytes = randomBytes(10_000);
    const digest = digestOf(bytes);
    const put = await client.request('PUT', withDigest(location, digest), {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expectCreated(put, repo, digest);
    await expectBlob(repo, bytes);
  });

  it('a POST body without ?digest= is kept as the first chunk', async () => {
    const repo = uniqueRepo('up');
    const first = randomBytes(100);
    const post = await client.request('POST', `/v2/${repo}/blobs/uploads/`, { body: first });
    await expectStatus(post, 202);
    expect(post.headers.get('range')).toBe('0-99');
    const rest = randomBytes(50);
    const all = Buffer.concat([first, rest]);
    const put = await client.request('PUT', withDigest(client.location(post), digestOf(all)), {
      headers: { 'content-range': '100-149' },
      body: rest,
    });
    expectCreated(put, repo, digestOf(all));
    await expectBlob(repo, all);
  });
});

describe('chunked uploads', () => {
  it('PATCH chunks with Content-Range, then PUT without a body', async () => {
    const repo = uniqueRepo('up');
    const blob = randomBytes(300_000);
    let location = await client.startUpload(repo);
    for (const [start, end] of [
      [0, 100_000],
      [100_000, 250_000],
      [250_000, 300_000],
    ] as const) {
      const res = await patchChunk(location, blob.subarray(start, end), start);
      await expectStatus(res, 202);
      expect(res.headers.get('range')).toBe(`0-${end - 1}`);
      expect(res.headers.get('content-length')).toBe('0');
      location = client.location(res);
      expect(location).toMatch(UPLOAD_PATH);
    }
    const digest = digestOf(blob);
    const put = await client.request('PUT', withDigest(location, digest));
    expectCreated(put, repo, digest);
    await expectBlob(repo, blob);
  });

  it('the last chunk may come with the closing PUT', async () => {
    const repo = uniqueRepo('up');
    const blob = randomBytes(2000);
    const location = await client.startUpload(repo);
    await expectStatus(await patchChunk(location, blob.subarray(0, 1500), 0), 202);
    const digest = digestOf(blob);
    const put = await client.request('PUT', withDigest(location, digest), {
      headers: { 'content-range': '1500-1999', 'content-type': 'application/octet-stream' },
      body: blob.subarray(1500),
    });
    expectCreated(put, repo, digest);
    await expectBlob(repo, blob);
  });

  it('a streamed PATCH without Content-Range or Content-Length (what most clients send)', async () => {
    const repo = uniqueRepo('up');
    const blob = randomBytes(200_000);
    const location = await client.startUpload(repo);
    const res = await client.request('PATCH', location, {
      headers: { 'content-type': 'application/octet-stream' },
      body: streamOf(blob),
    });
    await expectStatus(res, 202);
    expect(res.headers.get('range')).toBe(`0-${blob.length - 1}`);
    const digest = digestOf(blob);
    expectCreated(await client.request('PUT', withDigest(client.location(res), digest)), repo, digest);
    await expectBlob(repo, blob);
  });

  it('two streamed PATCHes in a row append', async () => {
    const repo = uniqueRepo('up');
    const a = randomBytes(30_000);
    const b = randomBytes(20_000);
    let location = await client.startUpload(repo);
    for (const part of [a, b]) {
      const res = await client.request('PATCH', location, { body: streamOf(part) });
      await expectStatus(res, 202);
      location = client.location(res);
    }
    const blob = Buffer.concat([a, b]);
    const status = await client.request('GET', location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${blob.length - 1}`);
    const digest = digestOf(blob);
    expectCreated(await client.request('PUT', withDigest(location, digest)), repo, digest);
    await expectBlob(repo, blob);
  });

  it('an out-of-order chunk is 416 with the current Range; the upload then continues', async () => {
    const repo = uniqueRepo('up');
    const blob = randomBytes(300);
    const location = await client.startUpload(repo);
    await expectStatus(await patchChunk(location, blob.subarray(0, 100), 0), 202);

    for (const start of [150, 50, 0]) {
      const res = await patchChunk(location, blob.subarray(start, start + 50), start);
      expect(res.headers.get('range'), `chunk at ${start}`).toBe('0-99');
      await expectOciError(res, 416, 'RANGE_INVALID');
    }

    const status = await client.request('GET', location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-99');

    await expectStatus(await patchChunk(location, blob.subarray(100), 100), 202);
    const digest = digestOf(blob);
    expectCreated(await client.request('PUT', withDigest(location, digest)), repo, digest);
    await expectBlob(repo, blob);
  });

  it('a first chunk that does not start at 0 is 416', async () => {
    const location = await client.startUpload(uniqueRepo('up'));
    await expectOciError(await patchChunk(location, randomBytes(10), 5), 416, 'RANGE_INVALID');
  });

  it('a malformed Content-Range is 416 RANGE_INVALID', async () => {
    const location = await client.startUpload(uniqueRepo('up'));
    for (const range of ['abc', '10-5', '0-']) {
      const res = await client.request('PATCH', location, {
        headers: { 'content-range': range },
        body: randomBytes(10),
      });
      await expectOciError(res, 416, 'RANGE_INVALID');
    }
  });

  it('a Content-Range whose length differs from the body is 400 SIZE_INVALID', async () => {
    const location = await client.startUpload(uniqueRepo('up'));
    const res = await client.request('PATCH', location, {
      headers: { 'content-range': '0-99' },
      body: randomBytes(10),
    });
    await expectOciError(res, 400, 'SIZE_INVALID');
    // Nothing was counted.
    expect((await client.request('GET', location)).headers.get('range')).toBe('0-0');
  });
});

describe('upload status and cancel', () => {
  it('GET on a session is 204 with Location, Range and the session id', async () => {
    const repo = uniqueRepo('up');
    const location = await client.startUpload(repo);
    await expectStatus(await patchChunk(location, randomBytes(64), 0), 202);
    const res = await client.request('GET', location);
    expect(res.status).toBe(204);
    expect(res.headers.get('range')).toBe('0-63');
    expect(res.headers.get('location')).toBe(location);
    expect(res.headers.get('docker-upload-uuid')).toBe(location.split('/').pop());
    expect(res.headers.get('content-length')).toBeNull();
    expect(await res.text()).toBe('');
  });

  it('DELETE cancels: 204, then the session is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const repo = uniqueRepo('up');
    const location = await client.startUpload(repo);
    await expectStatus(await patchChunk(location, randomBytes(64), 0), 202);
    const res = await client.request('DELETE', location);
    expect(res.status).toBe(204);
    await expectOciError(await client.request('GET', location), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectOciError(await patchChunk(location, randomBytes(1), 64), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectOciError(
      await client.request('PUT', withDigest(location, digestOf(Buffer.alloc(0)))),
      404,
      'BLOB_UPLOAD_UNKNOWN',
    );
    await expectOciError(await client.request('DELETE', location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('a finished upload is gone: its session is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const repo = uniqueRepo('up');
    const bytes = randomBytes(10);
    const location = await client.startUpload(repo);
    expectCreated(
      await client.request('PUT', withDigest(location, digestOf(bytes)), { body: bytes }),
      repo,
      digestOf(bytes),
    );
    await expectOciError(await client.request('GET', location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('unknown session ids, and sessions of another repository, are 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const repo = uniqueRepo('up');
    const location = await client.startUpload(repo);
    const id = location.split('/').pop() as string;
    for (const path of [
      `/v2/${repo}/blobs/uploads/${randomUUID()}`,
      `/v2/${repo}/blobs/uploads/not-a-uuid`,
      `/v2/${uniqueRepo('up')}/blobs/uploads/${id}`,
    ]) {
      await expectOciError(await client.request('GET', path), 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectOciError(await patchChunk(path, randomBytes(1), 0), 404, 'BLOB_UPLOAD_UNKNOWN');
    }
    // The real session was not disturbed.
    expect((await client.request('GET', location)).status).toBe(204);
  });

  it('POST on a session URL is 405 UNSUPPORTED; GET on the uploads collection too', async () => {
    const repo = uniqueRepo('up');
    const location = await client.startUpload(repo);
    await expectOciError(await client.request('POST', location), 405, 'UNSUPPORTED');
    await expectOciError(await client.request('GET', `/v2/${repo}/blobs/uploads/`), 405, 'UNSUPPORTED');
  });
});

describe('interrupted uploads', () => {
  // The service raises BLOB_UPLOAD_INVALID for an interrupted body, but no client can read it: the
  // connection is already half-closed and the HTTP server's client-error handler answers the
  // truncated request itself (a plain 400, not an OCI body). This is the only path to that code.
  // What matters is that the session keeps its last good offset and carries on.
  it('a PATCH whose body stops short counts none of its bytes; the upload then continues', async () => {
    const repo = uniqueRepo('up');
    const blob = randomBytes(200);
    const location = await client.startUpload(repo);
    await expectStatus(await patchChunk(location, blob.subarray(0, 100), 0), 202);

    const attempts: Array<[Record<string, string>, Buffer]> = [
      [{ 'content-length': '100', 'content-range': '100-199' }, randomBytes(50)],
      [{ 'transfer-encoding': 'chunked' }, Buffer.from(`32\r\n${'x'.repeat(50)}\r\n`)],
    ];
    for (const [headers, partial] of attempts) {
      const answer = await client.interrupted('PATCH', location, headers, partial);
      expect(answer).not.toMatch(/^HTTP\/1\.1 2\d\d/);
      // The server finishes failing the broken request before the session answers again, as a
      // client retrying after a dropped connection would see: writes to one session are sequential.
      const status = await eventually(
        'the upload session to answer after the broken request',
        () => client.request('GET', location),
        (res) => res.status !== 409 && res.status < 500,
      );
      expect(status.status).toBe(204);
      expect(status.headers.get('range')).toBe('0-99');
    }

    await expectStatus(await patchChunk(location, blob.subarray(100), 100), 202);
    const digest = digestOf(blob);
    expectCreated(await client.request('PUT', withDigest(location, digest)), repo, digest);
    await expectBlob(repo, blob);
  });
});

describe('closing PUT errors', () => {
  it('a PUT without ?digest= is 400 DIGEST_INVALID and keeps the session', async () => {
    const location = await client.startUpload(uniqueRepo('up'));
    await expectStatus(await patchChunk(location, randomBytes(10), 0), 202);
    await expectOciError(await client.request('PUT', location), 400, 'DIGEST_INVALID');
    expect((await client.request('GET', location)).headers.get('range')).toBe('0-9');
  });

  it('a PUT whose digest does not match the content is 400 DIGEST_INVALID', async () => {
    const repo = uniqueRepo('up');
    const location = await client.startUpload(repo);
    const bytes = randomBytes(10);
    await expectStatus(await patchChunk(location, bytes, 0), 202);
    const wrong = digestOf(randomBytes(10));
    await expectOciError(await client.request('PUT', withDigest(location, wrong)), 400, 'DIGEST_INVALID');
    await expectOciError(
      await client.request('PUT', withDigest(location, 'sha256:xyz')),
      400,
      'DIGEST_INVALID',
    );
    await expectOciError(await client.request('GET', `/v2/${repo}/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
    // The session is still usable with the right digest.
    expectCreated(await client.request('PUT', withDigest(location, digestOf(bytes))), repo, digestOf(bytes));
  });
});

describe('cross-repository mount', () => {
  it('mounting a blob the source repository has is 201 without an upload', async () => {
    const source = uniqueRepo('mount');
    const bytes = randomBytes(5000);
    const digest = await client.pushBlob(source, bytes);
    const target = uniqueRepo('mount');
    const res = await client.request('POST', `/v2/${target}/blobs/uploads/?mount=${digest}&from=${source}`);
    expectCreated(res, target, digest);
    await expectBlob(target, bytes);
  });

  it('falls back to a new upload session (202) when the blob cannot be mounted', async () => {
    const source = uniqueRepo('mount');
    const elsewhere = await client.pushBlob(uniqueRepo('mount'), randomBytes(10));
    await client.pushBlob(source, randomBytes(10));
    const target = uniqueRepo('mount');
    for (const query of [
      `mount=${elsewhere}&from=${source}`, // the source does not have it
      `mount=${elsewhere}&from=${uniqueRepo('missing')}`, // no such source
      `mount=${elsewhere}&from=Not..Valid`, // not a repository name
      `mount=${elsewhere}`, // no source at all
      `mount=sha256:bad&from=${source}`, // not a digest
    ]) {
      const res = await client.request('POST', `/v2/${target}/blobs/uploads/?${query}`);
      expect(res.status, query).toBe(202);
      const location = client.location(res);
      expect(location, query).toMatch(UPLOAD_PATH);
      expect(res.headers.get('docker-content-digest'), query).toBeNull();
    }
    await expectOciError(
      await client.request('GET', `/v2/${target}/blobs/${elsewhere}`),
      404,
      'BLOB_UNKNOWN',
    );
    // The fallback session works like any other.
    const bytes = randomBytes(20);
    const res = await client.request(
      'POST',
      `/v2/${target}/blobs/uploads/?mount=${elsewhere}&from=${source}`,
    );
    expectCreated(
      await client.request('PUT', withDigest(client.location(res), digestOf(bytes)), { body: bytes }),
      target,
      digestOf(bytes),
    );
  });
});

describe('sha512 uploads', () => {
  it('digest-algorithm=sha512 with chunks, then PUT ?digest=sha512:...', async () => {
    const repo = uniqueRepo('up512');
    const blob = randomBytes(150_000);
    const location = await client.startUpload(repo, '?digest-algorithm=sha512');
    await expectStatus(await patchChunk(location, blob.subarray(0, 70_000), 0), 202);
    await expectStatus(await patchChunk(location, blob.subarray(70_000), 70_000), 202);
    const digest = digestOf(blob, 'sha512');
    expectCreated(await client.request('PUT', withDigest(location, digest)), repo, digest);
    await expectBlob(repo, blob, 'sha512');
  });

  it('digest-algorithm=sha512 with a streamed PATCH', async () => {
    const repo = uniqueRepo('up512');
    const blob = randomBytes(80_000);
    const location = await client.startUpload(repo, '?digest-algorithm=sha512');
    await expectStatus(await client.request('PATCH', location, { body: streamOf(blob) }), 202);
    const digest = digestOf(blob, 'sha512');
    expectCreated(await client.request('PUT', withDigest(location, digest)), repo, digest);
    await expectBlob(repo, blob, 'sha512');
  });

  it('a sha512 digest is verified even when the session hashed with sha256', async () => {
    const repo = uniqueRepo('up512');
    const blob = randomBytes(1000);
    const location = await client.startUpload(repo);
    await expectStatus(await patchChunk(location, blob, 0), 202);
    await expectOciError(
      await client.request('PUT', withDigest(location, digestOf(randomBytes(5), 'sha512'))),
      400,
      'DIGEST_INVALID',
    );
    const digest = digestOf(blob, 'sha512');
    expectCreated(await client.request('PUT', withDigest(location, digest)), repo, digest);
    await expectBlob(repo, blob, 'sha512');
  });

  it('an unknown digest-algorithm is refused with UNSUPPORTED', async () => {
    const res = await client.request('POST', `/v2/${uniqueRepo('up')}/blobs/uploads/?digest-algorithm=md5`);
    await expectOciError(res, 400, 'UNSUPPORTED');
  });
});
