import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { OCI_MANIFEST } from '../helpers/oci-client.js';
import { RemoteError, type RemoteRegistry } from '../../src/remote/index.js';
import {
  breakingStream,
  pushTestImage,
  pushTestSignature,
  readAll,
  sha256,
} from './remote-registry-fixtures.js';

// What the remote-registry client must do against any peer, run against docker-registry and
// against Wharf: blobs with Range, mount, chunked upload resumed after an interrupted chunk,
// manifests, listing with pagination, referrers, deletion, typed errors.

export interface SuiteContext {
  client: () => RemoteRegistry;
  /** A repository name no other test uses, valid on the peer. */
  repo: (label: string) => string;
  /** How the peer lists referrers: the OCI API, or only the fallback tag schema. */
  referrers: 'api' | 'tag-schema';
  /** Whether an upload session survives an interrupted chunk (else it must start again). */
  resumesBrokenUploads: boolean;
}

export function remoteContentSuite(ctx: SuiteContext): void {
  describe('blobs', () => {
    it('streams a blob whole and from an offset (Range), stats it, and types a missing one', async () => {
      const client = ctx.client();
      const name = ctx.repo('blobs');
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      const digest = sha256(bytes);
      await client.pushBlob(name, digest, Readable.from([bytes]), bytes.length);
      expect(await client.statBlob(name, digest)).toEqual({ size: bytes.length });
      const whole = await client.openBlob(name, digest);
      expect(whole.size).toBe(bytes.length);
      const hash = createHash('sha256');
      for await (const chunk of whole.stream as AsyncIterable<Buffer>) hash.update(chunk);
      expect(`sha256:${hash.digest('hex')}`).toBe(digest);
      const tail = await client.openBlob(name, digest, { offset: 1_000_001 });
      expect(tail.offset).toBe(1_000_001);
      expect(tail.size).toBe(bytes.length);
      expect((await readAll(tail.stream)).equals(bytes.subarray(1_000_001))).toBe(true);

      const missing = sha256(randomBytes(8));
      expect(await client.statBlob(name, missing)).toBeNull();
      const err = await client.openBlob(name, missing).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).kind).toBe('not-found');
      expect((err as RemoteError).retryable).toBe(false);
    });

    it('mounts a blob from another repository without sending it', async () => {
      const client = ctx.client();
      const from = ctx.repo('mount-src');
      const to = ctx.repo('mount-dst');
      const image = await pushTestImage(client, from, 'v1');
      const result = await client.mountBlob(to, image.layer.digest, from);
      expect(result).toEqual({ mounted: true, digest: image.layer.digest });
      expect(await client.statBlob(to, image.layer.digest)).toEqual({ size: image.layer.size });
      // A digest the peer does not have: the peer opens an upload session instead.
      const absent = await client.mountBlob(to, sha256(randomBytes(8)), from);
      expect(absent.mounted).toBe(false);
      if (!absent.mounted) await client.cancelUpload(absent.session);
    });

    it('uploads in chunks and resumes after a chunk is interrupted', async () => {
      const client = ctx.client();
      const name = ctx.repo('chunks');
      const bytes = randomBytes(2 * 1024 * 1024);
      const digest = sha256(bytes);
      let session = await client.startUpload(name);
      expect(session.offset).toBe(0);
      const first = 512 * 1024;
      session = await client.uploadChunk(session, bytes.subarray(0, first), first);
      expect(session.offset).toBe(first);
      // The second chunk breaks after some bytes: the request fails as the peer going away would.
      const second = bytes.subarray(first, first + 1024 * 1024);
      const broken = await client
        .uploadChunk(session, breakingStream(second, 300 * 1024), second.length)
        .catch((e: unknown) => e);
      expect(broken).toBeInstanceOf(Error);
      // Where to resume is the peer's word: it kept what it committed, at least the first chunk.
      // The reference registry cannot resume a session whose last chunk broke (its state no longer
      // matches the bytes): it says the session is gone (not-found), and the upload starts again.
      const status = await client.uploadStatus(session).catch((e: unknown) => e);
      if (ctx.resumesBrokenUploads) {
        expect(status).not.toBeInstanceOf(Error);
        session = status as typeof session;
        expect(session.offset).toBeGreaterThanOrEqual(first);
        expect(session.offset).toBeLessThanOrEqual(first + 300 * 1024);
      } else {
        expect(status).toBeInstanceOf(RemoteError);
        expect((status as RemoteError).kind).toBe('not-found');
        session = await client.startUpload(name);
      }
      const rest = bytes.subarray(session.offset);
      session = await client.uploadChunk(session, Readable.from([rest]), rest.length);
      expect(session.offset).toBe(bytes.length);
      expect(await client.finishUpload(session, digest)).toBe(digest);
      const read = await client.openBlob(name, digest);
      expect(sha256(await readAll(read.stream))).toBe(digest);
    });
  });

  describe('manifests and listing', () => {
    it('gets, heads and lists manifests and tags, with pagination', async () => {
      const client = ctx.client();
      const name = ctx.repo('list');
      const a = await pushTestImage(client, name, 'a');
      const b = await pushTestImage(client, name, 'b');
      await client.putManifest(name, 'c', b.bytes, OCI_MANIFEST);

      const byTag = await client.getManifest(name, 'a');
      expect(byTag).toEqual({ bytes: a.bytes, mediaType: OCI_MANIFEST, digest: a.digest });
      expect((await client.getManifest(name, b.digest))?.bytes.equals(b.bytes)).toBe(true);
      expect(await client.headManifest(name, 'b')).toEqual({
        digest: b.digest,
        mediaType: OCI_MANIFEST,
        size: b.bytes.length,
      });
      expect(await client.getManifest(name, 'nope')).toBeNull();
      expect(await client.headManifest(name, 'nope')).toBeNull();

      const tags: string[] = [];
      for await (const tag of client.tags(name)) tags.push(tag);
      expect(tags.sort()).toEqual(['a', 'b', 'c']);
      expect(Object.fromEntries(await client.tagDigests(name))).toEqual({
        a: a.digest,
        b: b.digest,
        c: b.digest,
      });
      const none: string[] = [];
      for await (const tag of client.tags(ctx.repo('never-pushed'))) none.push(tag);
      expect(none).toEqual([]);

      const other = ctx.repo('list-other');
      await pushTestImage(client, other, 'x');
      const repositories: string[] = [];
      for await (const repo of client.repositories()) repositories.push(repo);
      expect(repositories).toContain(name);
      expect(repositories).toContain(other);
      expect(new Set(repositories).size).toBe(repositories.length);
    });

    it('deletes a manifest by digest', async () => {
      const client = ctx.client();
      const name = ctx.repo('delete');
      const image = await pushTestImage(client, name, 'gone');
      expect(await client.deleteManifest(name, image.digest)).toBe(true);
      expect(await client.getManifest(name, image.digest)).toBeNull();
      expect(await client.deleteManifest(name, image.digest)).toBe(false);
    });

    it('lists the referrers of a manifest', async () => {
      const client = ctx.client();
      const name = ctx.repo('referrers');
      const subject = await pushTestImage(client, name, 'signed');
      // A registry without the referrers API: clients maintain the fallback index tag.
      const { digest: signatureDigest, descriptor } = await pushTestSignature(client, name, subject, {
        fallbackTag: ctx.referrers === 'tag-schema',
      });
      const found = await client.referrers(name, subject.digest);
      expect(found.source).toBe(ctx.referrers);
      expect(found.descriptors).toEqual([expect.objectContaining(descriptor)]);
      expect(
        (await client.referrers(name, subject.digest, { artifactType: 'application/other' })).descriptors,
      ).toEqual([]);
      expect((await client.referrers(name, signatureDigest)).descriptors).toEqual([]);
    });
  });
}
