import { requiredBlobDigests, parseManifest, type ParsedManifest } from '../../domain/manifest.js';
import type { RemoteManifest } from '../../remote/index.js';
import { ensureBlob } from './blob-copy.js';
import { referenceText, short, type CopyContext } from './context.js';
import { CopyError, onPeer } from './errors.js';
import { forEachLimit } from './pool.js';

// One manifest and everything under it, depth first: an index's children before the index, an
// image's config and layers before the image, so that the destination never holds a manifest
// whose content is missing. Manifests go by digest; tags are the caller's last step.

export interface ManifestOutcome {
  manifest: RemoteManifest;
  /** False when the destination had it already (and so everything under it). */
  copied: boolean;
  /** Digests of the manifests visited under it, itself first: the subjects of referrers. */
  visited: string[];
}

/** Reads a manifest from the source; a missing one is a `not-found` CopyError. */
export async function readManifest(ctx: CopyContext, reference: string): Promise<RemoteManifest> {
  const { signal } = ctx;
  const src = ctx.source;
  const manifest = await onPeer('source', signal, () =>
    src.registry.getManifest(src.repository, reference, signal),
  );
  if (!manifest) {
    throw new CopyError(
      'not-found',
      `source: ${referenceText(src.repository, reference.slice(0, 160))} does not exist`,
      'source',
    );
  }
  return manifest;
}

export async function copyManifest(ctx: CopyContext, manifest: RemoteManifest): Promise<ManifestOutcome> {
  const { signal } = ctx;
  const dest = ctx.destination;
  const visited = [manifest.digest];
  if (ctx.manifests.has(manifest.digest)) return { manifest, copied: false, visited: [] };
  ctx.manifests.add(manifest.digest);

  const present = await onPeer('destination', signal, () =>
    dest.registry.headManifest(dest.repository, manifest.digest, signal),
  );
  if (present) {
    ctx.counts.manifestsSkipped++;
    return { manifest, copied: false, visited };
  }
  const parsed = parse(manifest);
  if (parsed.kind === 'index') {
    // One child at a time: each child's blobs already go in parallel.
    for (const child of parsed.manifests) {
      const read = await readManifest(ctx, child.digest);
      if (read.bytes.length !== child.size) {
        throw new CopyError(
          'integrity',
          `manifest ${short(child.digest)}: size differs from its descriptor`,
          'source',
        );
      }
      visited.push(...(await copyManifest(ctx, read)).visited);
    }
  } else {
    const sizes = new Map([parsed.config, ...parsed.layers].flatMap((d) => (d ? [[d.digest, d.size]] : [])));
    await forEachLimit(requiredBlobDigests(parsed), ctx.settings.concurrency, (digest) =>
      ensureBlob(ctx, { digest, size: sizes.get(digest) ?? 0 }),
    );
  }
  const stored = await onPeer('destination', signal, () =>
    dest.registry.putManifest(dest.repository, manifest.digest, manifest.bytes, manifest.mediaType, signal),
  );
  if (stored !== manifest.digest) {
    throw new CopyError(
      'integrity',
      `manifest ${short(manifest.digest)}: the destination stored ${stored}`,
      'destination',
    );
  }
  ctx.counts.manifestsCopied++;
  ctx.log(`manifest ${short(manifest.digest)} (${manifest.mediaType}): copied`);
  return { manifest, copied: true, visited };
}

function parse(manifest: RemoteManifest): ParsedManifest {
  try {
    return parseManifest(manifest.bytes, manifest.mediaType);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CopyError('invalid', `manifest ${short(manifest.digest)}: ${reason}`, 'source', { cause: err });
  }
}
