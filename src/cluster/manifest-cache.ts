// Manifest bytes by digest, kept in process memory. Content-addressed bytes never change, so
// this cache can never serve stale bytes for a digest; whether a repository still holds that
// digest (or what a tag points to) is always answered by the database. Bounded by total bytes.

export interface ManifestCache {
  get(digest: string): Buffer | undefined;
  set(digest: string, bytes: Buffer): void;
}

export function createManifestCache(maxBytes: number): ManifestCache {
  const entries = new Map<string, Buffer>();
  let total = 0;
  return {
    get(digest) {
      const bytes = entries.get(digest);
      if (bytes) {
        // Refresh recency: Map iteration order is insertion order, so re-insert at the end.
        entries.delete(digest);
        entries.set(digest, bytes);
      }
      return bytes;
    },
    set(digest, bytes) {
      if (bytes.length > maxBytes || entries.has(digest)) return;
      entries.set(digest, bytes);
      total += bytes.length;
      for (const [oldest, value] of entries) {
        if (total <= maxBytes) break;
        entries.delete(oldest);
        total -= value.length;
      }
    },
  };
}
