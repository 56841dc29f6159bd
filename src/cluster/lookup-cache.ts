// Answers to the pull hot path's lookups (tag or digest → manifest; digest → blob visible in a
// repository), grouped by repository so that any write to a repository drops all of its entries.
//
// Exact only when this process sees every write: that holds for the embedded database (PGlite
// admits one process, enforced by its lock file). With an external database other instances may
// write, so the server uses the disabled cache there until a shared one (Redis, with invalidation
// messages) exists. Only positive answers are kept: a later write can only add what was missing.

export interface LookupCache {
  get<T>(repository: string, key: string): T | undefined;
  /** Take before reading the database; pass to set(), which ignores answers older than a write. */
  epoch(): number;
  set<T>(repository: string, key: string, value: T, epoch: number): void;
  /** Forgets everything cached for the repository. Call on every write to it. */
  invalidate(repository: string): void;
}

export const disabledLookupCache: LookupCache = {
  get: () => undefined,
  epoch: () => 0,
  set: () => undefined,
  invalidate: () => undefined,
};

export function createLocalLookupCache(maxEntries: number): LookupCache {
  const byRepository = new Map<string, Map<string, unknown>>();
  let size = 0;
  // Bumped by every invalidation: an answer read from the database before a write finished must
  // not be cached after that write's invalidation.
  let currentEpoch = 0;
  return {
    epoch: () => currentEpoch,
    get<T>(repository: string, key: string): T | undefined {
      return byRepository.get(repository)?.get(key) as T | undefined;
    },
    set<T>(repository: string, key: string, value: T, epoch: number): void {
      if (epoch !== currentEpoch) return;
      let entries = byRepository.get(repository);
      if (!entries) {
        entries = new Map();
        byRepository.set(repository, entries);
      }
      if (!entries.has(key)) size++;
      entries.set(key, value);
      // Evict whole repositories, oldest first, to stay within bounds.
      for (const [name, oldest] of byRepository) {
        if (size <= maxEntries) break;
        if (name === repository) continue;
        size -= oldest.size;
        byRepository.delete(name);
      }
    },
    invalidate(repository: string): void {
      currentEpoch++;
      const entries = byRepository.get(repository);
      if (entries) {
        size -= entries.size;
        byRepository.delete(repository);
      }
    },
  };
}
