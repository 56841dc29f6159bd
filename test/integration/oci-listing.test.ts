import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectOciError, expectStatus, uniqueRepo, useTestRegistry } from '../helpers/oci-client.js';
import { createProject } from '../helpers/server.js';

// Tag lists and the catalog: byte order, `n`/`last` pagination and the Link header.

const registry = useTestRegistry();
const { client } = registry;

/** Byte order, what the spec's "ASCIIbetical" means (and what Go's sort.Strings does). */
function byteOrder(values: string[]): string[] {
  return [...values].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Pushes one image and points every tag at it. */
async function repoWithTags(tags: string[]): Promise<string> {
  const repo = uniqueRepo('list');
  const image = await client.pushImage(repo, tags[0] as string);
  for (const tag of tags.slice(1)) await client.putManifest(repo, tag, image.bytes, image.mediaType);
  return repo;
}

interface Page<T> {
  body: T;
  link: string | null;
}

async function getPage<T>(path: string): Promise<Page<T>> {
  const res = await client.request('GET', path);
  await expectStatus(res, 200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { body: (await res.json()) as T, link: res.headers.get('link') };
}

/** The target of a `<url>; rel="next"` Link header. */
function nextLink(link: string): string {
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  expect(m, link).not.toBeNull();
  return (m as RegExpExecArray)[1] as string;
}

const TAGS = ['b', 'A', 'a', '_x', '1', 'B-2', 'a.b', 'a-b', 'a_b', 'Z9', '0.1.0', 'latest'];

describe('tags list', () => {
  it('lists every tag in byte order', async () => {
    const repo = await repoWithTags(TAGS);
    const { body, link } = await getPage<{ name: string; tags: string[] }>(`/v2/${repo}/tags/list`);
    expect(body).toEqual({ name: repo, tags: byteOrder(TAGS) });
    expect(body.tags.slice(0, 4)).toEqual(['0.1.0', '1', 'A', 'B-2']);
    expect(link).toBeNull();
  });

  it('pages with n and a Link header until the end', async () => {
    const repo = await repoWithTags(TAGS);
    const sorted = byteOrder(TAGS);
    const seen: string[] = [];
    let path: string | undefined = `/v2/${repo}/tags/list?n=5`;
    const links: string[] = [];
    while (path) {
      const page: Page<{ name: string; tags: string[] }> = await getPage(path);
      expect(page.body.name).toBe(repo);
      expect(page.body.tags.length).toBeLessThanOrEqual(5);
      seen.push(...page.body.tags);
      path = page.link ? nextLink(page.link) : undefined;
      if (path) links.push(path);
    }
    expect(seen).toEqual(sorted);
    expect(links).toEqual([
      `/v2/${repo}/tags/list?n=5&last=${sorted[4]}`,
      `/v2/${repo}/tags/list?n=5&last=${sorted[9]}`,
    ]);
  });

  it('a page that ends exactly at the last tag has no Link', async () => {
    const repo = await repoWithTags(['a', 'b', 'c']);
    const first = await getPage<{ tags: string[] }>(`/v2/${repo}/tags/list?n=3`);
    expect(first.body.tags).toEqual(['a', 'b', 'c']);
    expect(first.link).toBeNull();
    const more = await getPage<{ tags: string[] }>(`/v2/${repo}/tags/list?n=100`);
    expect(more.body.tags).toEqual(['a', 'b', 'c']);
    expect(more.link).toBeNull();
  });

  it('last starts after the given tag, which need not exist', async () => {
    const repo = await repoWithTags(['a', 'c', 'e', 'g']);
    expect((await getPage<{ tags: string[] }>(`/v2/${repo}/tags/list?last=c`)).body.tags).toEqual(['e', 'g']);
    expect((await getPage<{ tags: string[] }>(`/v2/${repo}/tags/list?last=d&n=1`)).body.tags).toEqual(['e']);
    expect((await getPage<{ tags: string[] }>(`/v2/${repo}/tags/list?last=z`)).body.tags).toEqual([]);
  });

  it('n=0 is an empty list without a Link', async () => {
    const repo = await repoWithTags(['a', 'b']);
    const page = await getPage<{ tags: string[] }>(`/v2/${repo}/tags/list?n=0`);
    expect(page.body.tags).toEqual([]);
    expect(page.link).toBeNull();
  });

  it('a repository with blobs but no tags lists none', async () => {
    const repo = uniqueRepo('list');
    await client.pushBlob(repo, randomBytes(10));
    expect((await getPage<{ name: string; tags: string[] }>(`/v2/${repo}/tags/list`)).body).toEqual({
      name: repo,
      tags: [],
    });
  });

  it('an unknown repository is 404 NAME_UNKNOWN', async () => {
    await expectOciError(
      await client.request('GET', `/v2/${uniqueRepo('nothing')}/tags/list`),
      404,
      'NAME_UNKNOWN',
    );
  });

  it('a malformed n is refused with 400', async () => {
    const repo = await repoWithTags(['a']);
    for (const n of ['abc', '-1', '1.5']) {
      await expectOciError(await client.request('GET', `/v2/${repo}/tags/list?n=${n}`), 400, 'UNSUPPORTED');
    }
  });

  it('methods other than GET and HEAD are 405 UNSUPPORTED', async () => {
    const repo = await repoWithTags(['a']);
    await expectOciError(await client.request('POST', `/v2/${repo}/tags/list`), 405, 'UNSUPPORTED');
    await expectOciError(await client.request('DELETE', `/v2/${repo}/tags/list`), 405, 'UNSUPPORTED');
  });
});

describe('catalog', () => {
  it('lists every repository once, in byte order, following Link headers', async () => {
    // A prefix after every other name in this file's server, so the tail of the catalog is ours.
    // The prefix is a project of its own, which pushes need.
    const prefix = `zz-${randomBytes(4).toString('hex')}`;
    await createProject(registry.wharf(), prefix);
    const names = ['b', 'a', 'a/b', 'a-b', 'c/d/e'].map((n) => `${prefix}/${n}`);
    for (const name of names) await client.pushBlob(name, randomBytes(10));

    const seen: string[] = [];
    let path: string | undefined = '/v2/_catalog?n=2';
    let pages = 0;
    while (path) {
      const page: Page<{ repositories: string[] }> = await getPage(path);
      expect(page.body.repositories.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.repositories);
      pages += 1;
      path = page.link ? nextLink(page.link) : undefined;
      if (path) expect(path).toMatch(/^\/v2\/_catalog\?n=2&last=/);
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual(byteOrder(seen));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((n) => n.startsWith(`${prefix}/`))).toEqual(byteOrder(names));
    expect(seen.slice(-names.length)).toEqual(byteOrder(names));

    // Starting from the prefix gives exactly our names, in pages.
    const first = await getPage<{ repositories: string[] }>(`/v2/_catalog?n=3&last=${prefix}`);
    expect(first.body.repositories).toEqual(byteOrder(names).slice(0, 3));
    expect(first.link).not.toBeNull();
    const second = await getPage<{ repositories: string[] }>(nextLink(first.link as string));
    expect(second.body.repositories).toEqual(byteOrder(names).slice(3));
    expect(second.link).toBeNull();
  });

  it('n=0 is an empty list without a Link', async () => {
    await client.pushBlob(uniqueRepo('cat'), randomBytes(10));
    const page = await getPage<{ repositories: string[] }>('/v2/_catalog?n=0');
    expect(page.body).toEqual({ repositories: [] });
    expect(page.link).toBeNull();
  });

  it('methods other than GET and HEAD are 405 UNSUPPORTED', async () => {
    await expectOciError(await client.request('POST', '/v2/_catalog'), 405, 'UNSUPPORTED');
  });
});
