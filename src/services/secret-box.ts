import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// Secrets Wharf must use later in clear (credentials for remote registries) are stored sealed with
// AES-256-GCM: a fresh 96-bit nonce per value, the 128-bit tag authenticating it, and a context
// string as additional data so a sealed value cannot be moved to another column and still open.
// The key is one file every instance reads (`secrets.encryption_key_file`).

const VERSION = 'v1';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`the encryption key must be ${KEY_BYTES} bytes`);
    this.#key = Buffer.from(key);
  }

  /** `v1:<base64 of nonce | tag | ciphertext>`. */
  seal(plaintext: string, context: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const encrypted = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}:${Buffer.concat([nonce, cipher.getAuthTag(), encrypted]).toString('base64')}`;
  }

  /** Throws when the value was not sealed with this key and context (or was altered). */
  open(sealed: string, context: string): string {
    const [version, payload] = sealed.split(':', 2);
    if (version !== VERSION || !payload) throw new Error('not a sealed value');
    const bytes = Buffer.from(payload, 'base64');
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new Error('sealed value too short');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(bytes.subarray(NONCE_BYTES + TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      // Never the key or the value in the message.
      throw new Error('a stored secret cannot be decrypted: was secrets.encryption_key_file changed?');
    }
  }
}

/**
 * Reads the key: 32 raw bytes, or their base64 text. When `generateIfMissing` (the default path in
 * the data directory) and the file is absent, 32 random bytes are written with mode 0600; if
 * another instance wrote it first, its key is used.
 */
export function loadEncryptionKey(file: string, generateIfMissing: boolean): Buffer {
  if (!existsSync(file)) {
    if (!generateIfMissing) throw new Error(`secrets.encryption_key_file ${file} does not exist`);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
    }
  }
  const raw = readFileSync(file);
  if (raw.length === KEY_BYTES) return raw;
  const text = raw.toString('utf8').trim();
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (decoded.length === KEY_BYTES) return decoded;
  throw new Error(
    `secrets.encryption_key_file ${file} must hold ${KEY_BYTES} bytes, raw or base64 (e.g. "openssl rand -base64 32")`,
  );
}
