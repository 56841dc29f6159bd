// At most `limit` tasks at once per key, the rest waiting in order. The login checks use it so
// that a burst of guesses cannot all pass the lock check before the first failure is recorded.

interface Slot {
  active: number;
  waiting: Array<() => void>;
}

export class KeyedLimiter {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly limit: number) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { active: 0, waiting: [] };
      this.slots.set(key, slot);
    }
    if (slot.active < this.limit) slot.active++;
    else await new Promise<void>((resolve) => slot.waiting.push(resolve));
    try {
      return await task();
    } finally {
      // A waiting task takes this place over (active stays); else the place is freed.
      const next = slot.waiting.shift();
      if (next) next();
      else if (--slot.active === 0) this.slots.delete(key);
    }
  }
}
