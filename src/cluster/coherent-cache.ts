import type { ClusterBus } from './bus.js';
import type { LookupCache } from './lookup-cache.js';

// A per-process lookup cache kept coherent across instances: every invalidation is also sent to
// the other instances over the cluster bus, and the cache answers only while the bus is live.
// When Redis is down (or was briefly away) lookups go straight to the database, and whatever was
// cached is dropped, so nothing stale outlives a missed message. The local cache's maximum age
// bounds the one case the bus cannot see: an instance whose own publish failed while the others
// stayed subscribed.

export type CacheOutcome = 'hit' | 'miss' | 'bypass';

export function createCoherentLookupCache(
  local: LookupCache,
  bus: ClusterBus,
  observe: (outcome: CacheOutcome) => void = () => undefined,
): LookupCache {
  bus.on('repository-changed', (scope) => void local.invalidate(scope));
  bus.onGap(() => local.clear());
  return {
    get<T>(scope: string, key: string): T | undefined {
      if (!bus.isLive()) {
        observe('bypass');
        return undefined;
      }
      const value = local.get<T>(scope, key);
      observe(value === undefined ? 'miss' : 'hit');
      return value;
    },
    epoch: () => local.epoch(),
    set<T>(scope: string, key: string, value: T, epoch: number): void {
      if (bus.isLive()) local.set(scope, key, value, epoch);
    },
    async invalidate(scope: string): Promise<void> {
      await local.invalidate(scope);
      // Awaited: the write's response goes out only after Redis has accepted the message, and
      // Redis sends it to every subscriber before it answers the publisher, so the other
      // instances have it in hand before a client can act on the response.
      await bus.publish('repository-changed', scope);
    },
    clear: () => local.clear(),
  };
}
