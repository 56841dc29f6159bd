import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  HarborHashError,
  harborHashToStored,
  hashPassword,
  isWharfHash,
  needsRehash,
  SCRYPT_PARAMETERS,
  verifyDummy,
  verifyPassword,
} from './passwords.js';

// Vectors computed independently for this test with Python's hashlib.pbkdf2_hmac(digest, password,
// salt, 4096, 16).hex() and cross-checked with `openssl kdf -keylen 16 ... PBKDF2`: the same
// derivation Harbor stores in harbor_user.password (hex) with its salt and password_version.
const VECTORS = [
  {
    password: 'Harbor12345',
    salt: 'k3Xw9PqL2mZt8RvB4nYc7HdJ1sFg6Ae0',
    sha1: 'd527e30516486aadb860103a681fccdf',
    sha256: '22c0ee7dbe0c540ed3b0fccebc72c336',
  },
  {
    password: 'pässwörd €',
    salt: '0123456789abcdefABCDEFghijklmnop',
    sha1: '2f4806d6c1664249b68ccecd57fd736a',
    sha256: '68883a3eab244cd0aa7862c447cf61aa',
  },
] as const;

describe('Harbor password hashes', () => {
  for (const v of VECTORS) {
    for (const version of ['sha1', 'sha256'] as const) {
      it(`verifies a Harbor ${version} hash of "${v.password}"`, async () => {
        const stored = harborHashToStored(v[version], v.salt, version);
        expect(stored).not.toBeNull();
        expect(await verifyPassword(v.password, stored as string)).toBe(true);
        expect(await verifyPassword(`${v.password}x`, stored as string)).toBe(false);
        expect(await verifyPassword('', stored as string)).toBe(false);
      });
    }
  }

  it('stores digest, rounds, salt bytes and key in its own form', () => {
    const v = VECTORS[0];
    expect(harborHashToStored(v.sha256, v.salt, 'sha256')).toBe(
      `pbkdf2-sha256$4096$${Buffer.from(v.salt).toString('base64')}$${Buffer.from(v.sha256, 'hex').toString('base64')}`,
    );
  });

  it('treats a missing password_version as sha1 (rows older than the column)', async () => {
    const v = VECTORS[0];
    for (const version of [null, undefined, '']) {
      const stored = harborHashToStored(v.sha1, v.salt, version) as string;
      expect(stored.startsWith('pbkdf2-sha1$4096$')).toBe(true);
      expect(await verifyPassword(v.password, stored)).toBe(true);
    }
  });

  it('does not verify against the other digest or another salt', async () => {
    const v = VECTORS[0];
    expect(await verifyPassword(v.password, harborHashToStored(v.sha1, v.salt, 'sha256') as string)).toBe(
      false,
    );
    expect(await verifyPassword(v.password, harborHashToStored(v.sha1, 'other-salt', 'sha1') as string)).toBe(
      false,
    );
  });

  it('accepts upper-case hex', async () => {
    const v = VECTORS[1];
    const stored = harborHashToStored(v.sha256.toUpperCase(), v.salt, 'sha256') as string;
    expect(await verifyPassword(v.password, stored)).toBe(true);
  });

  it('returns null for a row without a password (LDAP/OIDC users)', () => {
    expect(harborHashToStored('', 'salt', 'sha256')).toBeNull();
    expect(harborHashToStored(null, null, null)).toBeNull();
  });

  it('refuses unknown versions and malformed keys', () => {
    expect(() => harborHashToStored(VECTORS[0].sha1, 's', 'md5')).toThrow(HarborHashError);
    expect(() => harborHashToStored('abc', 's', 'sha1')).toThrow(HarborHashError);
    expect(() => harborHashToStored('zz'.repeat(16), 's', 'sha1')).toThrow(HarborHashError);
    expect(() => harborHashToStored('ab'.repeat(20), 's', 'sha1')).toThrow(HarborHashError);
  });
});

describe('verifyPassword on stored strings it does not know', () => {
  it('is false, never an exception', async () => {
    const key = Buffer.alloc(16, 1).toString('base64');
    for (const stored of [
      '',
      '!',
      'plain',
      'pbkdf2-md5$4096$c2FsdA==$' + key,
      'pbkdf2-sha1$0$c2FsdA==$' + key,
      'pbkdf2-sha1$abc$c2FsdA==$' + key,
      'pbkdf2-sha1$99999999999$c2FsdA==$' + key,
      'pbkdf2-sha1$4096$c2FsdA==$',
      'pbkdf2-sha1$4096$c2FsdA==',
      'scrypt$32768$8$1$c2FsdA==',
      'scrypt$0$8$1$c2FsdA==$' + key,
    ]) {
      expect(await verifyPassword('password', stored)).toBe(false);
    }
  });
});

describe('needsRehash', () => {
  it('is false for a hash made now and true for imported or older ones', async () => {
    const current = await hashPassword('s3cret-password');
    expect(needsRehash(current)).toBe(false);
    expect(needsRehash(harborHashToStored(VECTORS[0].sha256, VECTORS[0].salt, 'sha256') as string)).toBe(
      true,
    );
    expect(needsRehash(harborHashToStored(VECTORS[0].sha1, VECTORS[0].salt, 'sha1') as string)).toBe(true);
    expect(needsRehash(current.replace(/^scrypt\$131072\$/, 'scrypt$32768$'))).toBe(true);
    expect(needsRehash('')).toBe(true);
  });

  it('upgrades an imported hash the way the login path does: verify, rehash, verify again', async () => {
    const v = VECTORS[1];
    const imported = harborHashToStored(v.sha1, v.salt, 'sha1') as string;
    expect(await verifyPassword(v.password, imported)).toBe(true);
    expect(needsRehash(imported)).toBe(true);
    const upgraded = await hashPassword(v.password);
    expect(needsRehash(upgraded)).toBe(false);
    expect(await verifyPassword(v.password, upgraded)).toBe(true);
    expect(await verifyPassword('wrong', upgraded)).toBe(false);
  });
});

describe('isWharfHash', () => {
  it('tells scrypt hashes from imported ones', async () => {
    expect(isWharfHash(await hashPassword('x-password'))).toBe(true);
    expect(isWharfHash(harborHashToStored(VECTORS[0].sha1, 's', 'sha1') as string)).toBe(false);
    expect(isWharfHash('!')).toBe(false);
  });
});

describe('scrypt parameters', () => {
  it("hashes at OWASP's current parameters: N=2^17, r=8, p=1", async () => {
    expect(SCRYPT_PARAMETERS).toEqual({ N: 131072, r: 8, p: 1 });
    expect(await hashPassword('Owasp-Passw0rd')).toMatch(
      /^scrypt\$131072\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{44}$/,
    );
  });

  it('verifies a hash of the former parameters (N=2^15) and asks for it to be replaced', async () => {
    const salt = Buffer.from('older-salt-bytes');
    const key = scryptSync('Older-Passw0rd', salt, 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const stored = `scrypt$32768$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    expect(await verifyPassword('Older-Passw0rd', stored)).toBe(true);
    expect(await verifyPassword('Other-Passw0rd', stored)).toBe(false);
    expect(needsRehash(stored)).toBe(true);
  });

  it('refuses stored parameters that would make a check allocate or compute without bound', async () => {
    const key = Buffer.alloc(32).toString('base64');
    for (const stored of [
      `scrypt$${2 ** 21}$8$1$c2FsdA==$${key}`,
      `scrypt$131071$8$1$c2FsdA==$${key}`,
      `scrypt$131072$64$1$c2FsdA==$${key}`,
      `scrypt$131072$8$17$c2FsdA==$${key}`,
    ]) {
      expect(await verifyPassword('password', stored)).toBe(false);
    }
  });

  it('the dummy check never succeeds, whatever the password', async () => {
    expect(await verifyDummy('')).toBe(false);
    expect(await verifyDummy('Any-Passw0rd')).toBe(false);
  });
});
