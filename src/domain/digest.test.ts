import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isDigest, isDigestAlgorithm, makeDigest, parseDigest } from './digest.js';

const SHA256 = createHash('sha256').update('wharf').digest('hex');
const SHA512 = createHash('sha512').update('wharf').digest('hex');

describe('parseDigest', () => {
  it('accepts sha256 and sha512 digests of the right length in lowercase hex', () => {
    expect(parseDigest(`sha256:${SHA256}`)).toEqual({
      ok: true,
      digest: { algorithm: 'sha256', hex: SHA256, value: `sha256:${SHA256}` },
    });
    expect(parseDigest(`sha512:${SHA512}`)).toEqual({
      ok: true,
      digest: { algorithm: 'sha512', hex: SHA512, value: `sha512:${SHA512}` },
    });
  });

  it('calls well-formed digests of other algorithms unsupported', () => {
    for (const input of [`md5:${'a'.repeat(32)}`, `sha384:${'a'.repeat(96)}`, 'multihash+base58:QmRZxt2b1']) {
      const result = parseDigest(input);
      expect(result.ok, input).toBe(false);
      if (!result.ok) expect(result.reason, input).toBe('unsupported');
    }
  });

  it('calls everything else malformed', () => {
    for (const input of [
      '',
      'sha256',
      'sha256:',
      ':abc',
      `sha256:${SHA256.slice(1)}`,
      `sha256:${SHA256}0`,
      `sha256:${SHA256.toUpperCase()}`,
      `SHA256:${SHA256}`,
      `sha256:${SHA512}`,
      `sha512:${SHA256}`,
      `sha256:${'g'.repeat(64)}`,
      `sha256:../../${SHA256.slice(6)}`,
      `sha256:${SHA256}/..`,
      ` sha256:${SHA256}`,
      `sha256:${SHA256}\n`,
      'sha256::abc',
      '-sha256:abc',
    ]) {
      const result = parseDigest(input);
      expect(result.ok, JSON.stringify(input)).toBe(false);
      if (!result.ok) expect(result.reason, JSON.stringify(input)).toBe('malformed');
    }
  });

  it('keeps error messages short whatever the input', () => {
    const result = parseDigest(`x:${'y'.repeat(10_000)}!`);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message.length).toBeLessThan(200);
  });
});

describe('digest helpers', () => {
  it('isDigest and isDigestAlgorithm', () => {
    expect(isDigest(`sha256:${SHA256}`)).toBe(true);
    expect(isDigest(`sha256:${SHA256.slice(2)}`)).toBe(false);
    expect(isDigestAlgorithm('sha256')).toBe(true);
    expect(isDigestAlgorithm('sha512')).toBe(true);
    expect(isDigestAlgorithm('md5')).toBe(false);
    expect(isDigestAlgorithm('SHA256')).toBe(false);
  });

  it('makeDigest builds the canonical value', () => {
    expect(makeDigest('sha512', SHA512).value).toBe(`sha512:${SHA512}`);
  });
});
