import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestHexOf, nativeHasher, resumableHasher } from './hashing.js';

describe('hashers', () => {
  for (const algorithm of ['sha256', 'sha512'] as const) {
    it(`${algorithm}: resumable state continues in a fresh hasher and matches native`, async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const expected = createHash(algorithm).update(data).digest('hex');

      const first = await resumableHasher(algorithm);
      first.update(data.subarray(0, 1_000_001));
      const state = first.saveState();
      expect(state).toBeInstanceOf(Uint8Array);

      const second = await resumableHasher(algorithm, state ?? undefined);
      second.update(data.subarray(1_000_001));
      expect(second.digestHex()).toBe(expected);

      const native = nativeHasher(algorithm);
      native.update(data);
      expect(native.saveState()).toBeNull();
      expect(native.digestHex()).toBe(expected);
      expect(digestHexOf(algorithm, data)).toBe(expected);
    });
  }
});
