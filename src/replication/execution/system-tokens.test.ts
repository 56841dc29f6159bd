import { describe, expect, it } from 'vitest';
import { renewingTokenSource } from './system-tokens.js';

describe('renewingTokenSource', () => {
  it('reuses a token for four fifths of its life, then mints a new one', async () => {
    let clock = 1_000_000;
    let minted = 0;
    const source = renewingTokenSource(
      () => Promise.resolve({ token: `t${++minted}`, expiresIn: 60 }),
      () => clock,
    );
    expect(await source.token()).toBe('t1');
    clock += 47_000;
    expect(await source.token()).toBe('t1');
    clock += 2_000; // 49 s: past 48 s, four fifths of 60
    expect(await source.token()).toBe('t2');
    expect(minted).toBe(2);
  });

  it('mints once for concurrent requests, and again after a failed minting', async () => {
    let minted = 0;
    let fail = true;
    const source = renewingTokenSource(async () => {
      minted++;
      await new Promise((r) => setTimeout(r, 10));
      if (fail) throw new Error('key unavailable');
      return { token: `t${minted}`, expiresIn: 60 };
    });
    await expect(Promise.all([source.token(), source.token()])).rejects.toThrow('key unavailable');
    expect(minted).toBe(1);
    fail = false;
    const tokens = await Promise.all([source.token(), source.token(), source.token()]);
    expect(tokens).toEqual(['t2', 't2', 't2']);
    expect(minted).toBe(2);
  });
});
