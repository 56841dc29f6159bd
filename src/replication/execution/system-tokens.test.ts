import { describe, expect, it } from 'vitest';
import { renewingTokenSource } from './system-tokens.js';

const PUSH = ['repository:p/app:pull,push'];

describe('renewingTokenSource', () => {
  it('reuses a token for four fifths of its life, then mints a new one', async () => {
    let clock = 1_000_000;
    let minted = 0;
    const source = renewingTokenSource(
      () => Promise.resolve({ token: `t${++minted}`, expiresIn: 60 }),
      () => clock,
    );
    expect(await source.token(PUSH)).toBe('t1');
    clock += 47_000;
    expect(await source.token(PUSH)).toBe('t1');
    clock += 2_000; // 49 s: past 48 s, four fifths of 60
    expect(await source.token(PUSH)).toBe('t2');
    expect(minted).toBe(2);
  });

  it('mints for exactly the repository actions the scopes ask, one token per set', async () => {
    const asked: string[] = [];
    const source = renewingTokenSource((wanted) => {
      const key = wanted.map((w) => `${w.name}=${w.actions.join(',')}`).join(' ');
      asked.push(key);
      return Promise.resolve({ token: key, expiresIn: 60 });
    });
    expect(await source.token(PUSH)).toBe('p/app=pull,push');
    const mount = ['repository:p/app:pull,push', 'repository:p/base:pull'];
    expect(await source.token(mount)).toBe('p/app=pull,push p/base=pull');
    expect(await source.token([...mount].reverse())).toBe('p/app=pull,push p/base=pull');
    expect(await source.token(['repository:p/app:pull', 'repository:p/app:delete'])).toBe(
      'p/app=delete,pull',
    );
    expect(await source.token(['registry:catalog:*'])).toBe('');
    expect(asked).toEqual(['p/app=pull,push', 'p/app=pull,push p/base=pull', 'p/app=delete,pull', '']);
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
    await expect(Promise.all([source.token(PUSH), source.token(PUSH)])).rejects.toThrow('key unavailable');
    expect(minted).toBe(1);
    fail = false;
    const tokens = await Promise.all([source.token(PUSH), source.token(PUSH), source.token(PUSH)]);
    expect(tokens).toEqual(['t2', 't2', 't2']);
    expect(minted).toBe(2);
  });
});
