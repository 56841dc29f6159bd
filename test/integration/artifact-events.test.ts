import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { EventActor } from '../../src/domain/events.js';
import {
  ORIGIN_HEADER,
  ORIGIN_PUSH_TIME_HEADER,
  ORIGIN_RECORDED_HEADER,
} from '../../src/domain/origin-headers.js';
import {
  digestOf,
  expectStatus,
  imageIndex,
  imageManifest,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  uniqueRepo,
  useTestRegistry,
  type Descriptor,
} from '../helpers/oci-client.js';

// Every write of the artifact core records its events in the outbox (the `events` table) in the
// write's own transaction: exactly these rows after each write, through /v2 and through the API,
// and none after a refused write.

const registry = useTestRegistry();
const { client } = registry;

interface EventRow {
  type: string;
  actor: EventActor;
  data: Record<string, unknown>;
}

/**
 * The write events of `repo` recorded after `since` (a sequence), in recording order. Pulls are
 * left out: the pull-count batch records them whenever it flushes, which may fall in any window.
 */
async function eventsOf(repo: string, since: number): Promise<EventRow[]> {
  return registry.wharf().server.db.query<EventRow>(
    `SELECT type, actor, data FROM events
       WHERE data->>'repository' = $1 AND sequence > $2 AND type <> 'artifact.pulled' ORDER BY sequence`,
    [repo, since],
  );
}

async function lastSequence(): Promise<number> {
  const rows = await registry
    .wharf()
    .server.db.query<{ n: string | number }>('SELECT COALESCE(max(sequence), 0) AS n FROM events');
  return Number(rows[0]?.n ?? 0);
}

/** Runs `write` and returns the events it recorded for `repo`. */
async function recorded(repo: string, write: () => Promise<void>): Promise<EventRow[]> {
  const since = await lastSequence();
  await write();
  return eventsOf(repo, since);
}

function apiRepositoryPath(repo: string): string {
  const [project, ...rest] = repo.split('/');
  return `/api/v2.0/projects/${project}/repositories/${encodeURIComponent(encodeURIComponent(rest.join('/')))}`;
}

async function put(
  repo: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
  status = 201,
): Promise<void> {
  const res = await client.request('PUT', `/v2/${repo}/manifests/${reference}`, {
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  await expectStatus(res, status);
}

/** An image manifest whose blobs are pushed; not the manifest itself. */
async function imageBytes(repo: string): Promise<Buffer> {
  const config = Buffer.from(JSON.stringify({ os: 'linux', n: randomBytes(8).toString('hex') }));
  const layer = randomBytes(128);
  return imageManifest({
    config: { mediaType: OCI_CONFIG, digest: await client.pushBlob(repo, config), size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: await client.pushBlob(repo, layer), size: layer.length }],
  });
}

async function pushImage(repo: string, tag?: string): Promise<Descriptor> {
  const bytes = await imageBytes(repo);
  const digest = digestOf(bytes);
  await put(repo, tag ?? digest, bytes, OCI_MANIFEST);
  return { mediaType: OCI_MANIFEST, digest, size: bytes.length };
}

const ADMIN = { name: 'admin', kind: 'user' };

function pushed(repo: string, image: Descriptor, tags: string[]) {
  return {
    type: 'artifact.pushed',
    data: { repository: repo, digest: image.digest, mediaType: image.mediaType, size: image.size, tags },
  };
}

function deleted(repo: string, image: Descriptor, tags: string[]) {
  return {
    type: 'artifact.deleted',
    data: { repository: repo, digest: image.digest, mediaType: image.mediaType, size: image.size, tags },
  };
}

function tagEvent(type: 'tag.created' | 'tag.deleted', repo: string, tag: string, digest: string) {
  return { type, data: { repository: repo, tag, digest } };
}

/** The events without their actors, and every actor checked to be the admin with an address. */
function withoutActors(events: EventRow[]): Array<Omit<EventRow, 'actor'>> {
  for (const e of events) {
    expect(e.actor).toMatchObject(ADMIN);
    expect(typeof e.actor.clientIp).toBe('string');
  }
  return events.map(({ type, data }) => ({ type, data }));
}

describe('events of manifest pushes (/v2 PUT)', () => {
  it('a push with a tag: artifact.pushed with the tag, and tag.created', async () => {
    const repo = uniqueRepo('events-push');
    const bytes = await imageBytes(repo);
    const image = { mediaType: OCI_MANIFEST, digest: digestOf(bytes), size: bytes.length };
    const events = await recorded(repo, () => put(repo, 'v1', bytes, OCI_MANIFEST));
    expect(withoutActors(events)).toEqual([
      pushed(repo, image, ['v1']),
      tagEvent('tag.created', repo, 'v1', image.digest),
    ]);
    expect(events[0]?.actor.clientIp).toBeTruthy();

    // The same push again moves nothing: only artifact.pushed.
    const again = await recorded(repo, () => put(repo, 'v1', bytes, OCI_MANIFEST));
    expect(withoutActors(again)).toEqual([pushed(repo, image, ['v1'])]);
  });

  it('a push by digest with tag parameters, and a push that moves a tag', async () => {
    const repo = uniqueRepo('events-tags');
    const bytes = await imageBytes(repo);
    const image = { mediaType: OCI_MANIFEST, digest: digestOf(bytes), size: bytes.length };
    const events = await recorded(repo, () => put(repo, `${image.digest}?tag=a&tag=b`, bytes, OCI_MANIFEST));
    expect(withoutActors(events)).toEqual([
      pushed(repo, image, ['a', 'b']),
      tagEvent('tag.created', repo, 'a', image.digest),
      tagEvent('tag.created', repo, 'b', image.digest),
    ]);
    const untagged = await recorded(repo, async () => void (await pushImage(repo)));
    expect(untagged.map((e) => e.type)).toEqual(['artifact.pushed']);
    expect(untagged[0]?.data.tags).toEqual([]);

    const next = await imageBytes(repo);
    const moved = { mediaType: OCI_MANIFEST, digest: digestOf(next), size: next.length };
    const moving = await recorded(repo, () => put(repo, 'a', next, OCI_MANIFEST));
    expect(withoutActors(moving)).toEqual([
      pushed(repo, moved, ['a']),
      tagEvent('tag.created', repo, 'a', moved.digest),
    ]);
  });

  it('a replicated write records no tag.created for a tag it leaves alone (a later push holds it)', async () => {
    const repo = uniqueRepo('events-replicated');
    await pushImage(repo, 'live');
    const bytes = await imageBytes(repo);
    const copy = { mediaType: OCI_MANIFEST, digest: digestOf(bytes), size: bytes.length };
    const events = await recorded(repo, async () => {
      const res = await client.request('PUT', `/v2/${repo}/manifests/live`, {
        headers: {
          'content-type': OCI_MANIFEST,
          [ORIGIN_PUSH_TIME_HEADER]: new Date(Date.now() - 3_600_000).toISOString(),
          [ORIGIN_HEADER]: 'http://127.0.0.1:1',
        },
        body: bytes,
      });
      await expectStatus(res, 201);
      expect(res.headers.get(ORIGIN_RECORDED_HEADER)).toBe('superseded');
    });
    expect(withoutActors(events)).toEqual([pushed(repo, copy, [])]);
  });

  it('a refused push records nothing', async () => {
    const repo = uniqueRepo('events-refused');
    await pushImage(repo, 'base');
    const missingBlob = imageManifest({
      config: { mediaType: OCI_CONFIG, digest: digestOf(randomBytes(8)), size: 8 },
      layers: [],
    });
    expect(await recorded(repo, () => put(repo, 'bad', missingBlob, OCI_MANIFEST, 400))).toEqual([]);
    const missingChild = imageIndex([{ mediaType: OCI_MANIFEST, digest: digestOf(randomBytes(8)), size: 8 }]);
    expect(await recorded(repo, () => put(repo, 'bad', missingChild, OCI_INDEX, 400))).toEqual([]);
  });
});

describe('events of deletes and tag writes', () => {
  it('/v2 tag delete: tag.deleted; digest delete: artifact.deleted with its tags', async () => {
    const repo = uniqueRepo('events-v2-delete');
    const image = await pushImage(repo, 'one');
    await put(repo, 'two', await imageBytesOf(repo, image.digest), OCI_MANIFEST);
    const tagGone = await recorded(repo, async () =>
      expectStatus(await client.request('DELETE', `/v2/${repo}/manifests/one`), 202),
    );
    expect(withoutActors(tagGone)).toEqual([tagEvent('tag.deleted', repo, 'one', image.digest)]);
    const gone = await recorded(repo, async () =>
      expectStatus(await client.request('DELETE', `/v2/${repo}/manifests/${image.digest}`), 202),
    );
    expect(withoutActors(gone)).toEqual([deleted(repo, image, ['two'])]);
  });

  it('an index delete records artifact.deleted for the index and each child it takes; a refused one nothing', async () => {
    const repo = uniqueRepo('events-cascade');
    const child = await pushImage(repo);
    const kept = await pushImage(repo, 'kept');
    const bytes = imageIndex([child, kept]);
    const index = { mediaType: OCI_INDEX, digest: digestOf(bytes), size: bytes.length };
    await put(repo, 'list', bytes, OCI_INDEX);

    const refused = await recorded(repo, async () =>
      expectStatus(await client.request('DELETE', `/v2/${repo}/manifests/${child.digest}`), 412),
    );
    expect(refused).toEqual([]);
    const cascade = await recorded(repo, async () =>
      expectStatus(
        await client.request('DELETE', `${apiRepositoryPath(repo)}/artifacts/${index.digest}`),
        200,
      ),
    );
    expect(withoutActors(cascade)).toEqual([deleted(repo, index, ['list']), deleted(repo, child, [])]);
  });

  it('API tag creation and deletion: tag.created, tag.deleted; a conflicting creation nothing', async () => {
    const repo = uniqueRepo('events-api-tags');
    const image = await pushImage(repo, 'first');
    const tags = `${apiRepositoryPath(repo)}/artifacts/${image.digest}/tags`;
    const created = await recorded(repo, async () =>
      expectStatus(
        await client.request('POST', tags, {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'second' }),
        }),
        201,
      ),
    );
    expect(withoutActors(created)).toEqual([tagEvent('tag.created', repo, 'second', image.digest)]);
    const conflict = await recorded(repo, async () =>
      expectStatus(
        await client.request('POST', tags, {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'second' }),
        }),
        409,
      ),
    );
    expect(conflict).toEqual([]);
    const removed = await recorded(repo, async () =>
      expectStatus(await client.request('DELETE', `${tags}/second`), 200),
    );
    expect(withoutActors(removed)).toEqual([tagEvent('tag.deleted', repo, 'second', image.digest)]);
  });

  it('a repository delete: artifact.deleted for every manifest, then repository.deleted', async () => {
    const repo = uniqueRepo('events-repo');
    const a = await pushImage(repo, 'a');
    const b = await pushImage(repo);
    const events = await recorded(repo, async () =>
      expectStatus(await client.request('DELETE', apiRepositoryPath(repo)), 200),
    );
    expect(withoutActors(events)).toEqual([
      deleted(repo, a, ['a']),
      deleted(repo, b, []),
      { type: 'repository.deleted', data: { repository: repo } },
    ]);
  });
});

async function imageBytesOf(repo: string, digest: string): Promise<Buffer> {
  const res = await client.request('GET', `/v2/${repo}/manifests/${digest}`, {
    headers: { accept: OCI_MANIFEST },
  });
  await expectStatus(res, 200);
  return Buffer.from(await res.arrayBuffer());
}
