import { describe, expect, it } from 'vitest';
import { KeyedLimiter } from './keyed-limiter.js';

describe('KeyedLimiter', () => {
  it('runs at most `limit` tasks of one key at once, other keys apart, and forgets idle keys', async () => {
    const limiter = new KeyedLimiter(2);
    let running = 0;
    let most = 0;
    const task = async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    };
    let otherStarted = false;
    const all = Array.from({ length: 7 }, () => limiter.run('a', task));
    all.push(
      limiter.run('b', async () => {
        otherStarted = true;
      }),
    );
    await Promise.all(all);
    expect(most).toBe(2);
    expect(otherStarted).toBe(true);
    expect((limiter as unknown as { slots: Map<string, unknown> }).slots.size).toBe(0);
  });

  it('frees the place of a task that throws', async () => {
    const limiter = new KeyedLimiter(1);
    await expect(limiter.run('a', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(limiter.run('a', () => Promise.resolve(7))).resolves.toBe(7);
  });
});
