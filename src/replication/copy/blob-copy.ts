import type { UploadSession } from '../../remote/index.js';
import { uploadBlob, type BlobRef } from './blob-upload.js';
import { short, type CopyContext } from './context.js';
import { isCopyError, onPeer } from './errors.js';

// One blob onto the destination by the cheapest way there is: already there (skip), linked from
// another repository of the destination (mount, no bytes), or streamed from the source. Each
// digest is handled once per copy, however many manifests share it.

export function ensureBlob(ctx: CopyContext, blob: BlobRef): Promise<void> {
  let done = ctx.blobs.get(blob.digest);
  if (!done) {
    done = copyBlob(ctx, blob);
    ctx.blobs.set(blob.digest, done);
  }
  return done;
}

async function copyBlob(ctx: CopyContext, blob: BlobRef): Promise<void> {
  const { signal } = ctx;
  const dest = ctx.destination;
  const present = await onPeer('destination', signal, () =>
    dest.registry.statBlob(dest.repository, blob.digest, signal),
  );
  if (present) {
    ctx.counts.blobsSkipped++;
    return;
  }
  const mount = await tryMount(ctx, blob);
  if (mount === 'mounted') {
    ctx.counts.blobsMounted++;
    return;
  }
  await uploadBlob(ctx, blob, mount);
  ctx.counts.blobsCopied++;
  ctx.log(`blob ${short(blob.digest)}: copied (${blob.size} bytes)`);
}

/** Where a mount of this blob may come from: the copy's candidates, then the blob's own. */
async function candidatesOf(ctx: CopyContext, digest: string): Promise<string[]> {
  const all = [...ctx.mountFrom];
  if (ctx.candidatesFor && all.length < ctx.maxMounts) {
    try {
      all.push(...(await ctx.candidatesFor(digest, ctx.signal)));
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      ctx.log(
        `blob ${short(digest)}: no mount candidates (${err instanceof Error ? err.message : String(err)})`,
      );
    }
  }
  const target = ctx.destination.repository;
  return [...new Set(all)].filter((name) => name !== target).slice(0, ctx.maxMounts);
}

/**
 * Asks the destination to mount the blob from each candidate in turn. A destination that cannot
 * answers with an upload session instead (202): the last such session is kept for the upload,
 * earlier ones are dropped. A refused mount (no right on the candidate) only means "upload it".
 */
async function tryMount(ctx: CopyContext, blob: BlobRef): Promise<'mounted' | UploadSession | null> {
  const { signal } = ctx;
  const dest = ctx.destination;
  let session: UploadSession | null = null;
  for (const from of await candidatesOf(ctx, blob.digest)) {
    if (session) {
      const stale = session;
      void dest.registry.cancelUpload(stale, AbortSignal.timeout(5_000)).catch(() => undefined);
      session = null;
    }
    try {
      const result = await onPeer('destination', signal, () =>
        dest.registry.mountBlob(dest.repository, blob.digest, from, signal),
      );
      if (result.mounted) {
        ctx.log(`blob ${short(blob.digest)}: mounted from ${from}`);
        return 'mounted';
      }
      session = result.session;
    } catch (err) {
      if (!isCopyError(err) || err.retryable || err.kind === 'aborted') throw err;
      ctx.log(
        `blob ${short(blob.digest)}: no mount from ${from} (${err instanceof Error ? err.message : String(err)})`,
      );
    }
  }
  return session;
}
