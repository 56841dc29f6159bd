import { describe, expect, it } from 'vitest';
import { backoffMs, errorText, resolveJobType } from './queue.js';

const handler = async () => undefined;

describe('backoff', () => {
  const rules = { backoffBaseMs: 1_000, backoffMaxMs: 60_000 };

  it('doubles with every attempt from the base', () => {
    const none = () => 0;
    expect([1, 2, 3, 4].map((a) => backoffMs(a, rules, none))).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it('is capped, and jitter adds at most a fifth', () => {
    expect(backoffMs(30, rules, () => 0)).toBe(60_000);
    expect(backoffMs(1, rules, () => 0.999)).toBeLessThanOrEqual(1_200);
    expect(backoffMs(1, rules, () => 0.999)).toBeGreaterThan(1_000);
  });
});

describe('job types', () => {
  it('take defaults, with the instance concurrency', () => {
    const t = resolveJobType('replication', handler, {}, 7);
    expect(t).toMatchObject({ type: 'replication', maxAttempts: 3, deadlineMs: null, concurrency: 7 });
  });

  it('refuse bad names (and "all", which the API reserves) and bad numbers', () => {
    expect(() => resolveJobType('all', handler, {}, 1)).toThrow(/invalid job type/);
    expect(() => resolveJobType('a b', handler, {}, 1)).toThrow(/invalid job type/);
    expect(() => resolveJobType('x', handler, { maxAttempts: 0 }, 1)).toThrow(/maxAttempts/);
    expect(() => resolveJobType('x', handler, { concurrency: 0 }, 1)).toThrow(/concurrency/);
    expect(() => resolveJobType('x', handler, { leaseMs: 10 }, 1)).toThrow(/leaseMs/);
  });
});

describe('error text', () => {
  it('is the message, bounded', () => {
    expect(errorText(new Error('peer unreachable'))).toBe('peer unreachable');
    expect(errorText('x'.repeat(5_000)).length).toBeLessThan(2_100);
  });
});
