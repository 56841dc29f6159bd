import { createHmac, randomBytes } from 'node:crypto';
import type { Database } from '../metadata/database.js';
import { upgradeRobotSecretHash, upgradeUserPasswordHash } from '../metadata/credential-upgrades-table.js';
import { findRobotByName } from '../metadata/robots-table.js';
import { findUserByName } from '../metadata/users-table.js';
import { KeyedLimiter } from './keyed-limiter.js';
import { LoginThrottle, throttleAddress, type LoginThrottleSettings } from './login-throttle.js';
import { hashPassword, needsRehash, prepareDummyHash, verifyDummy, verifyPassword } from './passwords.js';
import type { Principal } from './principal.js';

export { LoginThrottledError } from './login-throttle.js';

/** How long a verified credential is remembered in this process, to spare the KDF on every request. */
const VERIFIED_TTL_MS = 60_000;
const MAX_VERIFIED = 10_000;
/** Password checks at once from one client address, per instance (libuv runs four KDFs at a time). */
const CHECKS_PER_ADDRESS = 4;

/** Longer names cannot be any account's (the longest robot name is 517 bytes), and bound index entries. */
const MAX_LOGIN_NAME_BYTES = 1024;

interface Account {
  principal: Principal;
  /** The stored password or secret hash the credential verifies against. */
  hash: string;
}

interface Remembered extends Account {
  expires: number;
}

/** A credential that checked out: who, and the stored hash it matched (for compare-and-set). */
export interface VerifiedLogin {
  principal: Principal;
  credentialHash: string;
}

/** Robot accounts log in with this prefix, as in Harbor. */
export const ROBOT_PREFIX = 'robot$';

/**
 * Whether a string may be a login name at all. NUL and other control characters, broken UTF-16
 * (lone surrogates, which PostgreSQL text refuses), U+FFFD (what invalid UTF-8 decodes to) and
 * oversized names are no account's: such a login fails as a wrong password would (401), without
 * reaching SQL or the KDF (no account can have such a name, so a fast answer reveals nothing).
 */
export function isPlausibleLoginName(name: string): boolean {
  return (
    name !== '' &&
    name.isWellFormed() &&
    !/[\p{Cc}\uFFFD]/u.test(name) &&
    Buffer.byteLength(name, 'utf8') <= MAX_LOGIN_NAME_BYTES
  );
}

/**
 * Checks credentials of users and robot accounts. Verifying a password costs a deliberate few
 * hundred ms of scrypt; a registry client sends the same Basic credentials on every request of a
 * push, so a verified pair is remembered for a minute under an HMAC with a per-process key (the
 * password itself is never kept). This is an accelerator only: another instance simply verifies
 * again. Every use of a remembered credential is rechecked against the account's current row.
 * A robot that is disabled or expired is refused even while remembered (checked on every hit).
 *
 * Every path that checks a password (Basic on /v2 and the API, the token service, the portal
 * login, the old password of a password change) goes through `verify`, hence the one throttle
 * (see login-throttle.ts), and a name that is not an account costs the same KDF as one that is.
 */
export class AuthService {
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, Remembered>();
  // Password checks run one at a time per (name, address) and a few at a time per address, each
  // re-checking the lock first: a burst of guesses gets no more tries than the throttle allows
  // (per instance), and one address cannot occupy every KDF thread.
  private readonly perPair = new KeyedLimiter(1);
  private readonly perAddress = new KeyedLimiter(CHECKS_PER_ADDRESS);
  readonly throttle: LoginThrottle;

  constructor(
    private readonly db: Database,
    throttle?: LoginThrottleSettings,
  ) {
    this.throttle = new LoginThrottle(db, throttle);
    // Made in the background; a failure here (memory exhaustion) is retried by the first use.
    prepareDummyHash().catch(() => undefined);
  }

  async authenticate(username: string, password: string, clientAddress?: string): Promise<Principal | null> {
    return (await this.verify(username, password, clientAddress))?.principal ?? null;
  }

  /** As authenticate, with the stored hash the credential matched. Throws LoginThrottledError. */
  async verify(username: string, password: string, clientAddress = ''): Promise<VerifiedLogin | null> {
    if (!isPlausibleLoginName(username)) {
      await this.throttle.failed(null, clientAddress);
      return null;
    }
    // A locked pair or address is refused before any password is checked, even a remembered one
    // (else a locked-out guesser could keep trying against the cache, at no cost), so guessing
    // costs the attacker time on every instance (the counters are in the database).
    await this.throttle.check(username, clientAddress);
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
      if (current && current.hash === hit.hash) {
        return { principal: current.principal, credentialHash: current.hash };
      }
      this.verified.delete(fingerprint);
    }
    const address = throttleAddress(clientAddress);
    return this.perPair.run(`${username}\0${address}`, () =>
      this.perAddress.run(address, () => this.checkPassword(username, password, clientAddress, fingerprint)),
    );
  }

  private async checkPassword(
    username: string,
    password: string,
    clientAddress: string,
    fingerprint: string,
  ): Promise<VerifiedLogin | null> {
    // Again: an attempt that waited its turn may find the pair or the address locked by now.
    await this.throttle.check(username, clientAddress);
    const account = await this.loadAccount(username);
    // No account: the same KDF against a dummy hash, so the answer takes as long as for a real one.
    const matches = account ? await verifyPassword(password, account.hash) : await verifyDummy(password);
    if (!account || !matches) {
      await this.throttle.failed(username, clientAddress);
      return null;
    }
    if (needsRehash(account.hash)) await this.upgradeHash(account, password);
    await this.throttle.succeeded(username, clientAddress);
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(fingerprint, { ...account, expires: Date.now() + VERIFIED_TTL_MS });
    return { principal: account.principal, credentialHash: account.hash };
  }

  /**
   * The old-password check of a password change: the same throttle and counters as a login of
   * that name from that address, so it is no side door for guessing. Throws LoginThrottledError.
   */
  async confirmPassword(username: string, password: string, clientAddress?: string): Promise<boolean> {
    const login = await this.verify(username, password, clientAddress);
    return login?.principal.kind === 'user' && login.principal.username === username;
  }

  /**
   * Replaces a hash imported from Harbor (PBKDF2) or made with older parameters by one at the
   * current parameters, now that the secret is known. Only if the stored hash is still the one
   * that matched: a concurrent change of the password wins.
   */
  private async upgradeHash(account: Account, password: string): Promise<void> {
    const upgraded = await hashPassword(password);
    const { principal } = account;
    const replaced =
      principal.kind === 'user'
        ? await upgradeUserPasswordHash(this.db, principal.id, account.hash, upgraded)
        : principal.kind === 'robot'
          ? await upgradeRobotSecretHash(this.db, principal.id, account.hash, upgraded)
          : false;
    if (replaced) account.hash = upgraded;
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
}
