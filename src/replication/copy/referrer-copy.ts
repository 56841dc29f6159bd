import { OCI_INDEX } from '../../domain/media-types.js';
import type { ReferrerDescriptor } from '../../remote/index.js';
import { short, type CopyContext } from './context.js';
import { isCopyError, onPeer } from './errors.js';
import { copyManifest, readManifest } from './manifest-copy.js';

// Referrers (signatures, SBOMs, attestations) come along with their subject: after the subject
// is on the destination, every referrer the source lists for it is copied by digest, then their
// own referrers (a signature of an SBOM), down to a bounded depth. A destination without the
// referrers API (docker-registry) only finds them through the fallback tag `<alg>-<hex>`, an
// index that clients maintain; the engine maintains it there as a client would.

export async function copyReferrers(ctx: CopyContext, subjects: readonly string[], depth = 0): Promise<void> {
  const { signal } = ctx;
  const src = ctx.source;
  for (const subject of subjects) {
    const found = await onPeer('source', signal, () =>
      src.registry.referrers(src.repository, subject, signal ? { signal } : {}),
    );
    if (found.descriptors.length === 0) continue;
    const arrived: ReferrerDescriptor[] = [];
    const next: string[] = [];
    for (const descriptor of found.descriptors) {
      try {
        const outcome = await copyManifest(ctx, await readManifest(ctx, descriptor.digest));
        if (outcome.copied) {
          ctx.counts.referrersCopied++;
          ctx.log(`referrer ${short(descriptor.digest)} of ${short(subject)}: copied`);
        }
        next.push(...outcome.visited);
      } catch (err) {
        // A listed referrer the source no longer has, or one of a kind the engine cannot copy, is
        // an accessory missing: the subject stays copied and the copy goes on.
        if (isCopyError(err, 'invalid') || (isCopyError(err, 'not-found') && err.side === 'source')) {
          ctx.log(`referrer ${short(descriptor.digest)} of ${short(subject)}: skipped (${err.message})`);
          continue;
        }
        throw err;
      }
      arrived.push(descriptor);
    }
    await publishFallback(ctx, subject, arrived);
    if (depth < ctx.settings.referrerDepth && next.length > 0) await copyReferrers(ctx, next, depth + 1);
  }
}

/** Adds the copied referrers to the destination's fallback index, when it has no referrers API. */
async function publishFallback(
  ctx: CopyContext,
  subject: string,
  arrived: readonly ReferrerDescriptor[],
): Promise<void> {
  if (arrived.length === 0) return;
  const { signal } = ctx;
  const dest = ctx.destination;
  const current = await onPeer('destination', signal, () =>
    dest.registry.referrers(dest.repository, subject, signal ? { signal } : {}),
  );
  if (current.source === 'api') return;
  const listed = new Set(current.descriptors.map((d) => d.digest));
  const missing = arrived.filter((d) => !listed.has(d.digest));
  if (missing.length === 0) return;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [...current.descriptors, ...missing].map(descriptorJson),
    }),
  );
  // The spec's fallback tag: the subject digest with its colon replaced by a dash.
  const tag = subject.replace(':', '-');
  await onPeer('destination', signal, () =>
    dest.registry.putManifest(dest.repository, tag, index, OCI_INDEX, signal),
  );
  ctx.log(`referrers of ${short(subject)}: fallback tag ${tag.slice(0, 19)}… updated on the destination`);
}

function descriptorJson(d: ReferrerDescriptor): ReferrerDescriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.artifactType !== undefined && { artifactType: d.artifactType }),
    ...(d.annotations !== undefined && { annotations: d.annotations }),
  };
}
