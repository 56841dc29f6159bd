import { afterEach, describe, expect, it } from 'vitest';
import {
  configurePasswordCost,
  hashPassword,
  needsRehash,
  verifyDummy,
  verifyPassword,
} from './passwords.js';

// auth.password_kdf_cost: test suites lower scrypt's N; hashes of either cost keep verifying, and
// the current cost decides what a login upgrades.

describe('configurePasswordCost', () => {
  afterEach(() => configurePasswordCost());

  it('makes new hashes at 2^cost, which verify, and upgrades hashes of another cost', async () => {
    const strong = await hashPassword('Secret-Passw0rd');
    expect(strong.startsWith('scrypt$131072$8$1$')).toBe(true);
    configurePasswordCost(10);
    const cheap = await hashPassword('Secret-Passw0rd');
    expect(cheap.startsWith('scrypt$1024$8$1$')).toBe(true);
    expect(await verifyPassword('Secret-Passw0rd', cheap)).toBe(true);
    expect(await verifyPassword('Wrong-Passw0rd', cheap)).toBe(false);
    expect(await verifyPassword('Secret-Passw0rd', strong)).toBe(true);
    expect(needsRehash(cheap)).toBe(false);
    expect(needsRehash(strong)).toBe(true);
    expect(await verifyDummy('anything')).toBe(false);
    configurePasswordCost();
    expect(needsRehash(cheap)).toBe(true);
    expect(needsRehash(strong)).toBe(false);
  });
});
