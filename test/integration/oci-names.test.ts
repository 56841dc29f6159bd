import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  digestOf,
  expectOciError,
  expectStatus,
  uniqueRepo,
  useTestRegistry,
  type OciErrorBody,
} from '../helpers/oci-client.js';

// Repository names: the spec's grammar and length, and path traversal in every part of a path.

// On disk: the last test reads the storage directory for anything a traversal name made there.
const registry = useTestRegistry({ storage: 'disk' });
const { client } = registry;

function codeOf(body: string): string | undefined {
  return (JSON.parse(body) as OciErrorBody).errors[0]?.code;
}

describe('repository name grammar', () => {
  it('accepts names the spec allows', async () => {
    // Inside a project (the first component): a name of one component is NAME_INVALID in Wharf,
    // see oci-projects.test.ts.
    const base = `test/ok${randomBytes(3).toString('hex')}`;
    for (const name of [
      `${base}`,
      `${base}/a.b`,
      `${base}/a_b`,
      `${base}/a__b`,
      `${base}/a--b`,
      `${base}/a/b/c/d`,
      `${base}/0`,
    ]) {
      await client.pushBlob(name, randomBytes(10));
    }
  });

  it('refuses names outside the grammar with 400 NAME_INVALID on every endpoint', async () => {
    const digest = digestOf(randomBytes(10));
    for (const name of ['Upper/case', 'a/Upper', 'a_', '_a', 'a/-b', 'a.', 'a..b', 'a___b', 'a/.b', 'a+b']) {
      const paths: Array<[string, string]> = [
        ['GET', `/v2/${name}/tags/list`],
        ['GET', `/v2/${name}/manifests/latest`],
        ['PUT', `/v2/${name}/manifests/latest`],
        ['GET', `/v2/${name}/blobs/${digest}`],
        ['POST', `/v2/${name}/blobs/uploads/`],
        ['GET', `/v2/${name}/referrers/${digest}`],
      ];
      for (const [method, path] of paths) {
        const res = await client.request(method, path, method === 'PUT' ? { body: '{}' } : {});
        expect(res.status, `${method} ${path}`).toBe(400);
        await expectOciError(res, 400, 'NAME_INVALID');
      }
    }
  });

  it('a name of 255 characters is accepted, 256 is NAME_INVALID', async () => {
    const prefix = `test/len${randomBytes(3).toString('hex')}/`;
    const longest = prefix + 'a'.repeat(255 - prefix.length);
    expect(longest).toHaveLength(255);
    await client.pushBlob(longest, randomBytes(10));
    const tooLong = `${longest}b`;
    await expectOciError(await client.request('POST', `/v2/${tooLong}/blobs/uploads/`), 400, 'NAME_INVALID');
    await expectOciError(await client.request('GET', `/v2/${tooLong}/tags/list`), 400, 'NAME_INVALID');
    const veryLong = Array.from({ length: 200 }, () => 'abcd').join('/');
    await expectOciError(await client.request('GET', `/v2/${veryLong}/tags/list`), 400, 'NAME_INVALID');
  });

  it('an empty path component is NAME_INVALID', async () => {
    await expectOciError(await client.request('GET', '/v2/a//b/tags/list'), 400, 'NAME_INVALID');
  });
});

describe('path traversal', () => {
  // Each of these must be refused before reaching storage or SQL; none may create anything. The
  // paths are sent verbatim: fetch would resolve the dot segments before sending them.
  const marker = `wharf-escape-${randomBytes(4).toString('hex')}`;

  async function expectRefused(method: string, path: string, status: number, code: string): Promise<void> {
    const res = await client.raw(method, path, { 'content-length': '0' });
    expect(res.status, `${method} ${path}: ${res.body}`).toBe(status);
    expect(codeOf(res.body), `${method} ${path}`).toBe(code);
  }

  it('in the repository name: 400 NAME_INVALID', async () => {
    const cases: Array<[string, string]> = [
      ['GET', '/v2/a/../b/tags/list'],
      ['GET', '/v2/a/%2e%2e/b/tags/list'],
      ['GET', `/v2/a/%2E%2E/%2E%2E/${marker}/tags/list`],
      ['GET', `/v2/a%2F..%2F..%2F${marker}/tags/list`],
      ['POST', `/v2/..%2F..%2F..%2F..%2Ftmp%2F${marker}/blobs/uploads/`],
      ['POST', `/v2/../../../tmp/${marker}/blobs/uploads/`],
      ['POST', `/v2/..%2f..%2f..%2ftmp%2f${marker}/blobs/uploads/?digest=${digestOf(Buffer.alloc(0))}`],
      ['GET', '/v2/./a/tags/list'],
      ['GET', '/v2/a/%2e/b/manifests/latest'],
      ['PUT', `/v2/a/../../${marker}/manifests/latest`],
      ['GET', `/v2/%2e%2e/blobs/${digestOf(Buffer.alloc(0))}`],
      ['GET', `/v2/a/..%5C..%5C${marker}/tags/list`],
      ['GET', `/v2/a%00b/tags/list`],
    ];
    for (const [method, path] of cases) await expectRefused(method, path, 400, 'NAME_INVALID');
  });

  it('in digests, upload ids and tags: refused as what they are', async () => {
    const repo = uniqueRepo('trav');
    const image = await client.pushImage(repo, 'v1');
    const cases: Array<[string, string, number, string]> = [
      ['GET', `/v2/${repo}/blobs/sha256:..%2F..%2F..%2F${marker}`, 400, 'DIGEST_INVALID'],
      ['GET', `/v2/${repo}/blobs/..%2F..%2F${marker}`, 400, 'DIGEST_INVALID'],
      ['DELETE', `/v2/${repo}/blobs/%2e%2e`, 400, 'DIGEST_INVALID'],
      // A reference that can name no manifest is unknown to a read (OCI conformance), invalid to a write.
      ['GET', `/v2/${repo}/manifests/..%2F..%2F${marker}`, 404, 'MANIFEST_UNKNOWN'],
      ['PUT', `/v2/${repo}/manifests/%2e%2e`, 400, 'TAG_INVALID'],
      ['GET', `/v2/${repo}/manifests/sha256:%2e%2e`, 404, 'MANIFEST_UNKNOWN'],
      ['DELETE', `/v2/${repo}/manifests/sha256:%2e%2e`, 400, 'DIGEST_INVALID'],
      ['PATCH', `/v2/${repo}/blobs/uploads/%2e%2e`, 404, 'BLOB_UPLOAD_UNKNOWN'],
      ['GET', `/v2/${repo}/blobs/uploads/..%2F..%2F${marker}`, 404, 'BLOB_UPLOAD_UNKNOWN'],
      ['GET', `/v2/${repo}/referrers/..%2F${marker}`, 400, 'DIGEST_INVALID'],
      ['POST', `/v2/${repo}/blobs/uploads/?digest=sha256:..%2F..%2F${marker}`, 400, 'DIGEST_INVALID'],
    ];
    for (const [method, path, status, code] of cases) await expectRefused(method, path, status, code);
    await expectStatus(await client.request('GET', `/v2/${repo}/manifests/${image.digest}`), 200);
  });

  it('an encoded slash in a reference does not move the repository boundary', async () => {
    // Decoding the whole path first would read this as repository "<repo>/manifests/a", tag "b".
    const repo = uniqueRepo('trav');
    await client.pushImage(repo, 'v1');
    await expectRefused('GET', `/v2/${repo}/manifests/a%2Fmanifests%2Fb`, 404, 'MANIFEST_UNKNOWN');
    await expectRefused('PUT', `/v2/${repo}/manifests/a%2Fmanifests%2Fb`, 400, 'TAG_INVALID');
    await expectRefused('GET', `/v2/${repo}/tags/list%2F..`, 404, 'NAME_INVALID');
  });

  it('created nothing outside the storage, and no repository under a traversal name', async () => {
    expect(existsSync(join(tmpdir(), marker))).toBe(false);
    const { dataDir } = registry.wharf();
    expect(existsSync(join(dataDir, '..', marker))).toBe(false);
    const storage = await readdir(join(dataDir, 'storage'));
    expect(
      storage.every((entry) => ['blobs', 'uploads', '.tmp'].includes(entry)),
      storage.join(','),
    ).toBe(true);
    const catalog = await client.request('GET', '/v2/_catalog');
    const { repositories } = (await catalog.json()) as { repositories: string[] };
    expect(repositories.filter((r) => r.includes(marker) || r.includes('..'))).toEqual([]);
  });
});
