// Answers to the pull hot path's lookups (tag or digest → manifest; digest → blob visible in a
// repository), grouped by repository so that any write to a repository drops all of its entries.
//
// Exact only when this process sees every write: that holds for the embedded database (PGlite
// admits one process, enforced by its lock file). With an external database other instances may
// write: there the local cache is wrapped by the coherent one (coherent-cache.ts), which hears of
// every other instance's writes through Redis and stays out of the way while it cannot. Only
// positive answers are kept: a later write can only add what was missing.

export interface LookupCache {
  get<T>(repository: string, key: string): T | undefined;
  /** Take before reading the database; pass to set(), which ignores answers older than a write. */
  epoch(): number;
  set<T>(repository: string, key: string, value: T, epoch: number): void;
  /**
   * Forgets everything cached for the repository. Call on every write to it, and await it before
   * answering: with a cluster, it resolves once the other instances have been told.
   */
  invalidate(repository: string): Promise<void>;
  /** Forgets everything (when this process may have missed invalidations). */
  clear(): void;
}

export const disabledLookupCache: LookupCache = {
  get: () => undefined,
  epoch: () => 0,
  set: () => undefined,
  invalidate: async () => undefined,
  clear: () => undefined,
};

interface Entry {
  value: unknown;
  expiresAt: number;
}

/** maxAgeMs bounds how long an entry is trusted (a backstop for invalidations that get lost). */
export function createLocalLookupCache(maxEntries: number, maxAgeMs = Infinity): LookupCache {
  const byRepository = new Map<string, Map<string, Entry>>();
  let size = 0;
  // Bumped by every invalidation: an answer read from the database before a write finished must
  // not be cached after that write's invalidation.
  let currentEpoch = 0;
  return {
    epoch: () => currentEpoch,
    get<T>(repository: string, key: string): T | undefined {
      const entry = byRepository.get(repository)?.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= Date.now()) return undefined;
      return entry.value as T;
    },
    set<T>(repository: string, key: string, value: T, epoch: number): void {
      if (epoch !== currentEpoch) return;
      let entries = byRepository.get(repository);
      if (!entries) {
        entries = new Map();
        byRepository.set(repository, entries);
      }
      if (!entries.has(key)) size++;
      entries.set(key, { value, expiresAt: Date.now() + maxAgeMs });
      // Evict whole repositories, oldest first, to stay within bounds.
      for (const [name, oldest] of byRepository) {
        if (size <= maxEntries) break;
        if (name === repository) continue;
        size -= oldest.size;
        byRepository.delete(name);
      }
    },
    async invalidate(repository: string): Promise<void> {
      currentEpoch++;
      const entries = byRepository.get(repository);
      if (entries) {
        size -= entries.size;
        byRepository.delete(repository);
      }
    },
    clear(): void {
      currentEpoch++;
      byRepository.clear();
      size = 0;
    },
  };
}
