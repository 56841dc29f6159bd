import { CopyContext, referenceText, short } from './context.js';
import { abortedError, CopyError, onPeer } from './errors.js';
import { copyManifest, readManifest } from './manifest-copy.js';
import { copyReferrers } from './referrer-copy.js';
import type { PutManifestAnswer } from '../../remote/index.js';
import type { CopyRequest, CopyResult } from './types.js';

// The copy engine's entry: one artifact (image or index, by tag or digest) from a repository of
// one registry into a repository of another (or the same), with its referrers, then tagged. Every
// step is idempotent (what the destination has is skipped), so the job layer's answer to any
// retryable failure is to run the same copy again.

export async function copyArtifact(request: CopyRequest): Promise<CopyResult> {
  const ctx = new CopyContext(request);
  try {
    return await run(ctx, request);
  } catch (err) {
    if (ctx.signal?.aborted) throw abortedError(ctx.signal);
    if (err instanceof CopyError) throw err;
    throw new CopyError('other', err instanceof Error ? err.message : String(err), undefined, { cause: err });
  }
}

async function run(ctx: CopyContext, request: CopyRequest): Promise<CopyResult> {
  const { signal } = ctx;
  if (signal?.aborted) throw abortedError(signal);
  const src = request.source;
  const dest = request.destination;
  const tag = dest.tag;
  ctx.log(
    `copy ${src.registry.url}/${referenceText(src.repository, src.reference.slice(0, 80))} → ${dest.registry.url}/${dest.repository}${tag ? `:${tag}` : ' (by digest)'}`,
  );
  const root = await readManifest(ctx, src.reference);
  const result = (
    tagged: boolean,
    tagSkipped: boolean,
    tagAnswer: PutManifestAnswer | null = null,
  ): CopyResult => ({
    digest: root.digest,
    mediaType: root.mediaType,
    ...ctx.counts,
    tagged,
    tagSkipped,
    tagAnswer,
  });

  let alreadyTagged = false;
  if (tag) {
    const current = await onPeer('destination', signal, () =>
      dest.registry.headManifest(dest.repository, tag, signal),
    );
    alreadyTagged = current?.digest === root.digest;
    if (current && !alreadyTagged && !ctx.settings.override) {
      ctx.log(
        `tag ${tag} on the destination points at ${short(current.digest)}, not ${short(root.digest)}; override is off: skipped`,
      );
      return result(false, true);
    }
  }

  const outcome = await copyManifest(ctx, root);
  if (ctx.settings.copyReferrers) await copyReferrers(ctx, outcome.visited);
  // Last: a tag never points at an artifact whose content or signatures are still on the way.
  let answer: PutManifestAnswer | null = null;
  if (tag && !alreadyTagged) {
    if (request.options?.beforeTag && !(await request.options.beforeTag())) {
      ctx.log(`tag ${tag} not written: the destination changed while the copy ran`);
      return result(false, true);
    }
    const headers = dest.tagHeaders ?? {};
    answer = await onPeer('destination', signal, () =>
      dest.registry.putManifestWith(dest.repository, tag, root.bytes, root.mediaType, headers, signal),
    );
    ctx.log(`tag ${tag} → ${short(root.digest)}`);
  }
  const c = ctx.counts;
  ctx.log(
    `done ${short(root.digest)}: manifests ${c.manifestsCopied} copied, ${c.manifestsSkipped} present; blobs ${c.blobsCopied} copied, ${c.blobsMounted} mounted, ${c.blobsSkipped} present; ${c.bytesSent} bytes sent`,
  );
  return result(tag !== undefined, false, answer);
}
