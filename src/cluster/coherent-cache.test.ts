import { describe, expect, it } from 'vitest';
import type { ClusterBus, Topic } from './bus.js';
import { createCoherentLookupCache, type CacheOutcome } from './coherent-cache.js';
import { createLocalLookupCache } from './lookup-cache.js';

/** Two or more instances joined by an in-memory bus that can be taken down and brought back. */
function makeNetwork() {
  const members: Array<{ id: number; deliver: (topic: Topic, payload: string) => void; gap: () => void }> =
    [];
  let up = true;
  let next = 0;
  const join = (): ClusterBus => {
    const id = next++;
    const handlers = new Map<Topic, Array<(payload: string) => void>>();
    const gaps: Array<() => void> = [];
    members.push({
      id,
      deliver: (topic, payload) => handlers.get(topic)?.forEach((h) => h(payload)),
      gap: () => gaps.forEach((g) => g()),
    });
    return {
      isLive: () => up,
      async publish(topic, payload) {
        if (!up) return;
        for (const m of members) if (m.id !== id) m.deliver(topic, payload);
      },
      on: (topic, handler) => handlers.set(topic, [...(handlers.get(topic) ?? []), handler]),
      onGap: (handler) => gaps.push(handler),
      redis: null,
      close: async () => undefined,
    };
  };
  const setUp = (value: boolean) => {
    up = value;
    for (const m of members) m.gap();
  };
  return { join, setUp };
}

describe('coherent lookup cache', () => {
  it("drops an entry on every instance when one instance's write invalidates it", async () => {
    const net = makeNetwork();
    const a = createCoherentLookupCache(createLocalLookupCache(100), net.join());
    const b = createCoherentLookupCache(createLocalLookupCache(100), net.join());
    b.set('library/app', 'latest', 'sha256:old', b.epoch());
    expect(b.get('library/app', 'latest')).toBe('sha256:old');
    await a.invalidate('library/app');
    expect(b.get('library/app', 'latest')).toBeUndefined();
  });

  it('answers nothing while the bus is down, and forgets what it had when it comes back', async () => {
    const net = makeNetwork();
    const outcomes: CacheOutcome[] = [];
    const b = createCoherentLookupCache(createLocalLookupCache(100), net.join(), (o) => outcomes.push(o));
    b.set('r', 'k', 1, b.epoch());
    net.setUp(false);
    expect(b.get('r', 'k')).toBeUndefined();
    b.set('r', 'k', 2, b.epoch());
    net.setUp(true);
    // An invalidation sent while the bus was down was lost: nothing from before may be served.
    expect(b.get('r', 'k')).toBeUndefined();
    b.set('r', 'k', 3, b.epoch());
    expect(b.get('r', 'k')).toBe(3);
    expect(outcomes).toEqual(['bypass', 'miss', 'hit']);
  });

  it('ignores an answer read before another instance invalidated the repository', async () => {
    const net = makeNetwork();
    const a = createCoherentLookupCache(createLocalLookupCache(100), net.join());
    const b = createCoherentLookupCache(createLocalLookupCache(100), net.join());
    const before = b.epoch();
    await a.invalidate('r');
    b.set('r', 'k', 'read before the write', before);
    expect(b.get('r', 'k')).toBeUndefined();
  });

  it('trusts an entry no longer than the maximum age', async () => {
    const net = makeNetwork();
    const b = createCoherentLookupCache(createLocalLookupCache(100, 20), net.join());
    b.set('r', 'k', 1, b.epoch());
    expect(b.get('r', 'k')).toBe(1);
    await new Promise((r) => setTimeout(r, 40));
    expect(b.get('r', 'k')).toBeUndefined();
  });
});
