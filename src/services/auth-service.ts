import { createHmac, randomBytes } from 'node:crypto';
import type { Database } from '../metadata/database.js';
import { findUserByName, insertUserIfAbsent } from '../metadata/users-table.js';
import { generatePassword, hashPassword, verifyPassword } from './passwords.js';

export interface Principal {
  username: string;
  sysadmin: boolean;
}

/** How long a verified credential is remembered in this process, to spare the KDF on every request. */
const VERIFIED_TTL_MS = 60_000;
const MAX_VERIFIED = 10_000;

/**
 * Checks credentials. Verifying a password costs a deliberate ~50 ms of scrypt; a registry client
 * sends the same Basic credentials on every request of a push, so a verified pair is remembered
 * for a minute under an HMAC with a per-process key (the password itself is never kept). This is
 * an accelerator only: another instance simply verifies again.
 */
export class AuthService {
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, { principal: Principal; expires: number }>();

  constructor(private readonly db: Database) {}

  async authenticate(username: string, password: string): Promise<Principal | null> {
    const fingerprint = createHmac('sha256', this.cacheKey)
      .update(username)
      .update('\0')
      .update(password)
      .digest('base64');
    const hit = this.verified.get(fingerprint);
    if (hit && hit.expires > Date.now()) return hit.principal;
    const user = await findUserByName(this.db, username);
    if (!user || !(await verifyPassword(password, user.password_hash))) return null;
    const principal = { username: user.username, sysadmin: user.sysadmin };
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(fingerprint, { principal, expires: Date.now() + VERIFIED_TTL_MS });
    return principal;
  }

  /**
   * Creates the `admin` account on first start. Returns the generated password when none was
   * configured (to be printed once); null when the account already existed or the password was given.
   */
  async ensureAdmin(configuredPassword: string | undefined): Promise<string | null> {
    if (await findUserByName(this.db, 'admin')) return null;
    const password = configuredPassword ?? generatePassword();
    const created = await insertUserIfAbsent(this.db, 'admin', await hashPassword(password), true);
    return created && configuredPassword === undefined ? password : null;
  }
}
