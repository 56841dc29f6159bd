import { createHmac, randomBytes } from 'node:crypto';
import type { Database } from '../metadata/database.js';
import { clearFailures, lockedUntil, recordFailure } from '../metadata/login-failures-table.js';
import { findRobotByName } from '../metadata/robots-table.js';
import { findUserByName, insertUserIfAbsent, updateUserPassword } from '../metadata/users-table.js';
import { generatePassword, hashPassword, needsRehash, verifyPassword } from './passwords.js';
import type { Principal } from './principal.js';

/** How long a verified credential is remembered in this process, to spare the KDF on every request. */
const VERIFIED_TTL_MS = 60_000;
const MAX_VERIFIED = 10_000;

/** Failed logins are counted per account and per client address over this window. */
const FAILURE_WINDOW_SECONDS = 15 * 60;
const MAX_FAILURES_PER_ACCOUNT = 10;
const MAX_FAILURES_PER_ADDRESS = 50;
const LOCK_SECONDS = 5 * 60;

/** Too many failed logins for this account or from this address: refuse without checking. */
export class LoginThrottledError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed logins; retry in ${retryAfterSeconds} s`);
    this.name = 'LoginThrottledError';
  }
}

interface Account {
  principal: Principal;
  /** The stored password or secret hash the credential verifies against. */
  hash: string;
}

interface Remembered extends Account {
  expires: number;
}

/** Robot accounts log in with this prefix, as in Harbor. */
export const ROBOT_PREFIX = 'robot$';

/**
 * Checks credentials of users and robot accounts. Verifying a password costs a deliberate ~50 ms
 * of scrypt; a registry client sends the same Basic credentials on every request of a push, so a
 * verified pair is remembered for a minute under an HMAC with a per-process key (the password
 * itself is never kept). This is an accelerator only: another instance simply verifies again.
 * Every use of a remembered credential is rechecked against the account's current row.
 * A robot that is disabled or expired is refused even while remembered (checked on every hit).
 */
export class AuthService {
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, Remembered>();

  constructor(private readonly db: Database) {}

  async authenticate(username: string, password: string, clientAddress?: string): Promise<Principal | null> {
    const fingerprint = createHmac('sha256', this.cacheKey)
      .update(username)
      .update('\0')
      .update(password)
      .digest('base64');
    const now = Date.now();
    const hit = this.verified.get(fingerprint);
    if (hit && hit.expires > now) {
      // Checked against the account as it is now, on every use: one indexed query instead of the
      // KDF. The same stored hash means the secret this fingerprint was verified against is
      // still the one; a disabled, expired or deleted account has none. So a change made through
      // any instance takes effect on every instance at once, with or without Redis, and however
      // a verification raced with the change.
      const current = await this.loadAccount(username);
      if (current && current.hash === hit.hash) return current.principal;
      this.verified.delete(fingerprint);
    }
    // Throttling: a locked account or address is refused before any password is checked, so
    // guessing costs the attacker time on every instance (the counters are in the database).
    const keys = [`user:${username}`, ...(clientAddress ? [`addr:${clientAddress}`] : [])];
    const locked = await lockedUntil(this.db, keys);
    if (locked) throw new LoginThrottledError(Math.max(1, Math.ceil((locked.getTime() - now) / 1000)));
    const account = await this.loadAccount(username);
    if (!account || !(await verifyPassword(password, account.hash))) {
      await recordFailure(
        this.db,
        `user:${username}`,
        FAILURE_WINDOW_SECONDS,
        MAX_FAILURES_PER_ACCOUNT,
        LOCK_SECONDS,
      );
      if (clientAddress) {
        await recordFailure(
          this.db,
          `addr:${clientAddress}`,
          FAILURE_WINDOW_SECONDS,
          MAX_FAILURES_PER_ADDRESS,
          LOCK_SECONDS,
        );
      }
      return null;
    }
    if (account.principal.kind === 'user' && needsRehash(account.hash)) {
      // Hashes imported from Harbor (PBKDF2) or made with older parameters become scrypt now.
      account.hash = await hashPassword(password);
      await updateUserPassword(this.db, username, account.hash);
    }
    await clearFailures(this.db, `user:${username}`);
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(fingerprint, { ...account, expires: now + VERIFIED_TTL_MS });
    return account.principal;
  }

  /**
   * Forgets every remembered credential (after a password, secret or account change). Only
   * memory: a remembered credential is rechecked on every use anyway.
   */
  forgetVerified(): void {
    this.verified.clear();
  }

  /** The account behind a login name as it is now, or null if it cannot log in at all. */
  private async loadAccount(username: string): Promise<Account | null> {
    if (!username.startsWith(ROBOT_PREFIX)) {
      const user = await findUserByName(this.db, username);
      if (!user) return null;
      return {
        principal: { kind: 'user', id: user.id, username: user.username, sysadmin: user.sysadmin },
        hash: user.password_hash,
      };
    }
    const robot = await findRobotByName(this.db, username);
    if (!robot || robot.disabled) return null;
    const expiresAt = robot.expires_at ? robot.expires_at.getTime() : undefined;
    if (expiresAt !== undefined && expiresAt <= Date.now()) return null;
    return {
      principal: {
        kind: 'robot',
        id: robot.id,
        name: robot.name,
        projectId: robot.project_id,
        permissions: robot.permissions,
      },
      hash: robot.secret_hash,
    };
  }

  /**
   * Creates the `admin` account on first start. `generatedPassword` is set when none was
   * configured (to be printed once); `created` tells the caller this is the first start.
   */
  async ensureAdmin(
    configuredPassword: string | undefined,
  ): Promise<{ created: boolean; generatedPassword: string | null }> {
    if (await findUserByName(this.db, 'admin')) return { created: false, generatedPassword: null };
    const password = configuredPassword ?? generatePassword();
    const created = await insertUserIfAbsent(this.db, 'admin', await hashPassword(password), true);
    return { created, generatedPassword: created && configuredPassword === undefined ? password : null };
  }
}
