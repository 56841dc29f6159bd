import { pbkdf2, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// Password hashing with scrypt (memory-hard, built into Node) at OWASP's current parameters:
// N=2^17, r=8, p=1 (128 MiB and a few hundred milliseconds per hash). Stored form:
// `scrypt$N$r$p$<salt base64>$<hash base64>`, so parameters can be raised later without breaking
// existing hashes; a hash with other parameters is replaced at the next successful login.
//
// Hashes imported from Harbor are kept as they were made, so imported users log in with their old
// passwords: `pbkdf2-<digest>$<iterations>$<salt base64>$<key base64>` where digest is sha1 or
// sha256. They verify here and are replaced by a scrypt hash at the next successful login
// (needsRehash), because Harbor's 4096 PBKDF2 rounds are cheap to brute-force.

/** OWASP's N; `configurePasswordCost` lowers it only where configured (test suites). */
const DEFAULT_LOG2_N = 17;
let N = 1 << DEFAULT_LOG2_N;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

/** Bounds what a stored scrypt string can make us compute or allocate (N=2^20, r=8 is 1 GiB). */
const MAX_SCRYPT_N = 1 << 20;
const MAX_SCRYPT_R = 32;
const MAX_SCRYPT_P = 16;

/** Harbor's fixed PBKDF2 parameters (src/common/utils/encrypt.go): 4096 rounds, 16-byte key. */
const HARBOR_ITERATIONS = 4096;
const HARBOR_KEY_LENGTH = 16;
const PBKDF2_DIGESTS = new Set(['sha1', 'sha256']);
/** Bounds what a stored string can make us compute; far above any real PBKDF2 setting. */
const MAX_PBKDF2_ITERATIONS = 10_000_000;

function scryptAsync(
  password: string,
  salt: Buffer,
  keyLength: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function pbkdf2Async(
  password: string,
  salt: Buffer,
  iterations: number,
  keyLength: number,
  digest: string,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, keyLength, digest, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** The default parameters, for tests and diagnostics: `{ N, r, p }`. */
export const SCRYPT_PARAMETERS = Object.freeze({ N, r: R, p: P });

/** The hash a missing account's login is checked against (see verifyDummy). */
let dummyHash: Promise<string> | undefined;

/**
 * Sets scrypt's N to 2^log2N for the hashes made from now on in this process (the configuration's
 * auth.password_kdf_cost). Test suites lower it because a hash per created account at 2^17 is most
 * of their time; hashes of any cost still verify, and a login upgrades one made at another cost.
 */
export function configurePasswordCost(log2N: number = DEFAULT_LOG2_N): void {
  if (N === 1 << log2N) return;
  N = 1 << log2N;
  dummyHash = undefined; // the dummy check must cost what a real one does at the new N
}

function options(n: number, r: number, p: number): ScryptOptions {
  // scrypt needs 128 * N * r bytes (128 MiB at N=2^17, r=8) plus a little; Node's default cap is
  // 32 MiB, so the cap is set explicitly from the parameters, with room to spare.
  return { N: n, r, p, maxmem: 128 * n * r * 2 + 1024 * 1024 };
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, KEY_LENGTH, options(N, R, P));
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

function isPositiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

async function verifyScrypt(password: string, parts: string[]): Promise<boolean> {
  if (parts.length !== 6) return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![n, r, p].every(isPositiveInteger)) return false;
  if (n > MAX_SCRYPT_N || (n & (n - 1)) !== 0 || r > MAX_SCRYPT_R || p > MAX_SCRYPT_P) return false;
  const salt = Buffer.from(parts[4] as string, 'base64');
  const expected = Buffer.from(parts[5] as string, 'base64');
  if (expected.length === 0) return false;
  const actual = await scryptAsync(password, salt, expected.length, options(n, r, p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

async function verifyPbkdf2(password: string, parts: string[]): Promise<boolean> {
  if (parts.length !== 4) return false;
  const digest = (parts[0] as string).slice('pbkdf2-'.length);
  const iterations = Number(parts[1]);
  if (!PBKDF2_DIGESTS.has(digest) || !isPositiveInteger(iterations) || iterations > MAX_PBKDF2_ITERATIONS) {
    return false;
  }
  const salt = Buffer.from(parts[2] as string, 'base64');
  const expected = Buffer.from(parts[3] as string, 'base64');
  if (expected.length === 0) return false;
  const actual = await pbkdf2Async(password, salt, iterations, expected.length, digest);
  return timingSafeEqual(actual, expected);
}

/** True when `password` matches `stored`; false for a wrong password and for any unknown form. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts[0] === 'scrypt') return verifyScrypt(password, parts);
  if (parts[0]?.startsWith('pbkdf2-')) return verifyPbkdf2(password, parts);
  return false;
}

/**
 * A check that always fails but costs what a real one does: a login for a name that does not
 * exist (or cannot log in) verifies against this hash of a random password at the current
 * parameters, so the time of the answer does not tell which names exist.
 */
export async function verifyDummy(password: string): Promise<false> {
  await verifyPassword(password, await prepareDummyHash());
  return false;
}

/** Makes the dummy hash now (at start), so that not even the first missing-name login differs. */
export function prepareDummyHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(18).toString('base64url')).catch((err: unknown) => {
    dummyHash = undefined; // tried again next time rather than failing every login after
    throw err;
  });
  return dummyHash;
}

/** True for any stored hash not made with the current algorithm and parameters. */
export function needsRehash(stored: string): boolean {
  return !stored.startsWith(`scrypt$${N}$${R}$${P}$`);
}

/**
 * True for a hash Wharf made itself (scrypt, any parameters), as opposed to one brought in by an
 * import. An import leaves such a hash alone: it means the user has logged in to Wharf or set a
 * password here since, and that is newer than what the old registry holds.
 */
export function isWharfHash(stored: string): boolean {
  return stored.startsWith('scrypt$');
}

/** A Harbor row's password fields that cannot be turned into a stored hash. */
export class HarborHashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarborHashError';
  }
}

/**
 * Converts Harbor's `password` (hex), `salt` and `password_version` columns into the stored form.
 * Harbor feeds the salt string's bytes to PBKDF2 as they are, so they are kept as bytes here.
 * A missing version means sha1: the rows that predate the column were all sha1. Returns null when
 * the row holds no password at all (LDAP or OIDC users, or Harbor's admin before its first start).
 */
export function harborHashToStored(
  hash: string | null | undefined,
  salt: string | null | undefined,
  version: string | null | undefined,
): string | null {
  if (hash === null || hash === undefined || hash === '') return null;
  const digest = version === null || version === undefined || version === '' ? 'sha1' : version;
  if (!PBKDF2_DIGESTS.has(digest)) throw new HarborHashError(`unknown password_version "${digest}"`);
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hash) || hash.length !== HARBOR_KEY_LENGTH * 2) {
    throw new HarborHashError(`password is not a ${HARBOR_KEY_LENGTH}-byte hex PBKDF2 key`);
  }
  const saltB64 = Buffer.from(salt ?? '', 'utf8').toString('base64');
  const keyB64 = Buffer.from(hash, 'hex').toString('base64');
  return `pbkdf2-${digest}$${HARBOR_ITERATIONS}$${saltB64}$${keyB64}`;
}

/** A random password for the first start when none is configured: 24 base64url characters. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
