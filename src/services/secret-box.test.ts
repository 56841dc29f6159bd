import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEncryptionKey, SecretBox } from './secret-box.js';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed, and the sealed form does not contain the secret', () => {
    const sealed = box.seal('Harbor12345', 'registry');
    expect(sealed).toMatch(/^v1:/);
    expect(sealed).not.toContain('Harbor12345');
    expect(box.open(sealed, 'registry')).toBe('Harbor12345');
  });

  it('seals the same secret differently each time', () => {
    expect(box.seal('s', 'c')).not.toBe(box.seal('s', 'c'));
  });

  it('refuses another context, another key, and altered bytes', () => {
    const sealed = box.seal('secret', 'registry');
    expect(() => box.open(sealed, 'other')).toThrow(/cannot be decrypted/);
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'registry')).toThrow(/cannot be decrypted/);
    const bytes = Buffer.from(sealed.slice(3), 'base64');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    expect(() => box.open(`v1:${bytes.toString('base64')}`, 'registry')).toThrow(/cannot be decrypted/);
  });
});

describe('loadEncryptionKey', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-key-'));

  it('generates a 0600 key once, then reads the same key', () => {
    const file = join(dir, 'secrets', 'encryption.key');
    const first = loadEncryptionKey(file, true);
    expect(first.length).toBe(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadEncryptionKey(file, true).equals(first)).toBe(true);
    expect(readFileSync(file).equals(first)).toBe(true);
  });

  it('reads base64 keys, refuses a missing configured file and wrong sizes', () => {
    const key = randomBytes(32);
    const b64 = join(dir, 'b64.key');
    writeFileSync(b64, `${key.toString('base64')}\n`);
    expect(loadEncryptionKey(b64, false).equals(key)).toBe(true);
    expect(() => loadEncryptionKey(join(dir, 'absent.key'), false)).toThrow(/does not exist/);
    const short = join(dir, 'short.key');
    writeFileSync(short, 'abc');
    expect(() => loadEncryptionKey(short, false)).toThrow(/32 bytes/);
  });
});
