import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  digestOf,
  expectOciError,
  expectStatus,
  uniqueRepo,
  useTestRegistry,
} from '../helpers/oci-client.js';

// Blob reads (HEAD, GET, ranges), deletes and visibility between repositories.

const { client } = useTestRegistry();

async function pushed(size = 1000): Promise<{ repo: string; bytes: Buffer; digest: string }> {
  const repo = uniqueRepo('blobs');
  const bytes = randomBytes(size);
  const digest = await client.pushBlob(repo, bytes);
  return { repo, bytes, digest };
}

describe('blob HEAD and GET', () => {
  it('HEAD describes the blob without a body', async () => {
    const { repo, bytes, digest } = await pushed();
    const res = await client.request('HEAD', `/v2/${repo}/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(bytes.length));
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toBe(`"${digest}"`);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('GET returns the exact bytes', async () => {
    const { repo, bytes, digest } = await pushed(70_000);
    const res = await client.request('GET', `/v2/${repo}/blobs/${digest}`);
    await expectStatus(res, 200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-length')).toBe(String(bytes.length));
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('an empty blob is stored and served', async () => {
    const { repo, digest } = await pushed(0);
    expect(digest).toBe(digestOf(Buffer.alloc(0)));
    const head = await client.request('HEAD', `/v2/${repo}/blobs/${digest}`);
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('0');
    const get = await client.request('GET', `/v2/${repo}/blobs/${digest}`);
    await expectStatus(get, 200);
    expect((await get.arrayBuffer()).byteLength).toBe(0);
  });

  it('a blob pushed with a sha512 digest is served by that digest', async () => {
    const repo = uniqueRepo('blobs');
    const bytes = randomBytes(3000);
    const digest = await client.pushBlob(repo, bytes, 'sha512');
    expect(digest).toMatch(/^sha512:[a-f0-9]{128}$/);
    const res = await client.request('GET', `/v2/${repo}/blobs/${digest}`);
    await expectStatus(res, 200);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    // The same bytes are not known under their sha256 digest: nothing was pushed by that name.
    await expectOciError(
      await client.request('GET', `/v2/${repo}/blobs/${digestOf(bytes)}`),
      404,
      'BLOB_UNKNOWN',
    );
  });
});

describe('blob GET with Range', () => {
  it('a closed range is 206 with Content-Range and exactly those bytes', async () => {
    const { repo, bytes, digest } = await pushed(1000);
    const res = await client.request('GET', `/v2/${repo}/blobs/${digest}`, {
      headers: { range: 'bytes=10-19' },
    });
    await expectStatus(res, 206);
    expect(res.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect(res.headers.get('content-length')).toBe('10');
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
  });

  it('open-ended, suffix and over-long ranges are resolved against the size', async () => {
    const { repo, bytes, digest } = await pushed(1000);
    const cases: Array<[string, number, number]> = [
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=-5000', 0, 999],
      ['bytes=900-100000', 900, 999],
      ['bytes=0-0', 0, 0],
    ];
    for (const [range, start, end] of cases) {
      const res = await client.request('GET', `/v2/${repo}/blobs/${digest}`, { headers: { range } });
      await expectStatus(res, 206);
      expect(res.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/1000`);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(start, end + 1)), range).toBe(true);
    }
  });

  it('an unsatisfiable range is 416 RANGE_INVALID with Content-Range: bytes */size', async () => {
    const { repo, digest } = await pushed(1000);
    for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=20-10', 'bytes=-0']) {
      const res = await client.request('GET', `/v2/${repo}/blobs/${digest}`, { headers: { range } });
      expect(res.headers.get('content-range'), range).toBe('bytes */1000');
      await expectOciError(res, 416, 'RANGE_INVALID');
    }
  });

  it('any range of an empty blob is unsatisfiable', async () => {
    const { repo, digest } = await pushed(0);
    const res = await client.request('GET', `/v2/${repo}/blobs/${digest}`, {
      headers: { range: 'bytes=0-' },
    });
    expect(res.headers.get('content-range')).toBe('bytes */0');
    await expectOciError(res, 416, 'RANGE_INVALID');
  });

  it('a Range in another unit, or several ranges, is ignored: 200 with the whole blob', async () => {
    const { repo, bytes, digest } = await pushed(100);
    for (const range of ['items=0-1', 'bytes=0-1,5-6']) {
      const res = await client.request('GET', `/v2/${repo}/blobs/${digest}`, { headers: { range } });
      await expectStatus(res, 200);
      expect(res.headers.get('content-range'), range).toBeNull();
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes), range).toBe(true);
    }
  });

  it('HEAD ignores Range (range requests are defined for GET only) and still advertises them', async () => {
    const { repo, digest } = await pushed(1000);
    const res = await client.request('HEAD', `/v2/${repo}/blobs/${digest}`, {
      headers: { range: 'bytes=10-19' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('1000');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('docker-content-digest')).toBe(digest);
  });
});

describe('unknown blobs and repositories', () => {
  it('a digest not in the repository is 404 BLOB_UNKNOWN (HEAD: 404 without body)', async () => {
    const { repo } = await pushed();
    const missing = digestOf(randomBytes(10));
    await expectOciError(await client.request('GET', `/v2/${repo}/blobs/${missing}`), 404, 'BLOB_UNKNOWN');
    const head = await client.request('HEAD', `/v2/${repo}/blobs/${missing}`);
    expect(head.status).toBe(404);
    expect(head.headers.get('docker-content-digest')).toBeNull();
  });

  it('a blob of another repository is not visible', async () => {
    const { digest } = await pushed();
    const other = await pushed();
    await expectOciError(
      await client.request('GET', `/v2/${other.repo}/blobs/${digest}`),
      404,
      'BLOB_UNKNOWN',
    );
  });

  it('a repository that does not exist is 404 NAME_UNKNOWN', async () => {
    const { digest } = await pushed();
    await expectOciError(
      await client.request('GET', `/v2/${uniqueRepo('nothing')}/blobs/${digest}`),
      404,
      'NAME_UNKNOWN',
    );
  });

  it('malformed and unsupported digests are 400 DIGEST_INVALID', async () => {
    const { repo } = await pushed();
    for (const digest of [
      'sha256:abc',
      `sha256:${'A'.repeat(64)}`,
      `md5:${'a'.repeat(32)}`,
      'not-a-digest',
      `sha512:${'a'.repeat(64)}`,
    ]) {
      await expectOciError(await client.request('GET', `/v2/${repo}/blobs/${digest}`), 400, 'DIGEST_INVALID');
    }
  });

  it('methods the blob endpoint does not have are 405 UNSUPPORTED', async () => {
    const { repo, digest } = await pushed();
    for (const method of ['POST', 'PUT', 'PATCH']) {
      await expectOciError(await client.request(method, `/v2/${repo}/blobs/${digest}`), 405, 'UNSUPPORTED');
    }
  });
});

describe('blob DELETE', () => {
  it('is 202, after which the blob is 404 in that repository only', async () => {
    const { repo, bytes, digest } = await pushed();
    const other = uniqueRepo('blobs');
    await client.pushBlob(other, bytes);

    const res = await client.request('DELETE', `/v2/${repo}/blobs/${digest}`);
    await expectStatus(res, 202);
    expect(res.headers.get('content-length')).toBe('0');

    await expectOciError(await client.request('GET', `/v2/${repo}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    expect((await client.request('HEAD', `/v2/${repo}/blobs/${digest}`)).status).toBe(404);
    // Deduplicated storage: the other repository's link to the same bytes is untouched.
    const kept = await client.request('GET', `/v2/${other}/blobs/${digest}`);
    await expectStatus(kept, 200);
    expect(Buffer.from(await kept.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('deleting again is 404 BLOB_UNKNOWN; in an unknown repository 404 NAME_UNKNOWN', async () => {
    const { repo, digest } = await pushed();
    await expectStatus(await client.request('DELETE', `/v2/${repo}/blobs/${digest}`), 202);
    await expectOciError(await client.request('DELETE', `/v2/${repo}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    await expectOciError(
      await client.request('DELETE', `/v2/${uniqueRepo('nothing')}/blobs/${digest}`),
      404,
      'NAME_UNKNOWN',
    );
    await expectOciError(
      await client.request('DELETE', `/v2/${repo}/blobs/sha256:nothex`),
      400,
      'DIGEST_INVALID',
    );
  });

  it('a deleted blob can be pushed again', async () => {
    const { repo, bytes, digest } = await pushed();
    await expectStatus(await client.request('DELETE', `/v2/${repo}/blobs/${digest}`), 202);
    await client.pushBlob(repo, bytes);
    await expectStatus(await client.request('GET', `/v2/${repo}/blobs/${digest}`), 200);
  });
});
