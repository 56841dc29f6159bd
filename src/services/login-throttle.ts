import { isIPv6 } from 'node:net';
import type { Database, Queryable } from '../metadata/database.js';
import {
  liftLoginLocks,
  listLoginLocks,
  lockedUntil,
  purgeLoginFailures,
  recordFailure,
  recordSuccess,
  WHOLE_ADDRESS,
  type LoginLockRow,
} from '../metadata/login-failures-table.js';

// Who may still try a password, shared by every instance through the database.
//
// A lock never follows a login name alone, or anyone who knows a name (admin, a CI robot) could
// lock it for everyone. Failures are counted per (name, client address): guessing one account
// from one address is slowed to a few tries per window, while its owner elsewhere signs in.
// Failures from one address over all names are counted too (password spraying); a locked address
// is refused only for names that have not signed in successfully from it within KNOWN_SECONDS,
// so the people who work behind that address (a NAT, or the load balancer when http.trust_proxy
// is off) keep signing in while the sprayer cannot try new names.

/** How long a successful sign-in makes an address "known" for that name. */
const KNOWN_SECONDS = 30 * 86_400;
/** Purging stale rows runs at most this often per process (it rides on a checked login). */
const PURGE_INTERVAL_MS = 60_000;

export interface LoginThrottleSettings {
  windowSeconds: number;
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  lockSeconds: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleSettings = {
  windowSeconds: 900,
  maxFailuresPerAccount: 10,
  maxFailuresPerAddress: 50,
  lockSeconds: 300,
};

/** Too many failed logins for this name from this address, or from this address: refused unchecked. */
export class LoginThrottledError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed logins; retry in ${retryAfterSeconds} s`);
    this.name = 'LoginThrottledError';
  }
}

/**
 * The address failures are counted under. An IPv6 client usually holds a whole /64 (2^64
 * addresses), so it is counted as its /64; an IPv4-mapped address as the IPv4 address.
 */
export function throttleAddress(address: string): string {
  if (!isIPv6(address)) return address;
  const bare = address.split('%')[0] as string;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1] as string;
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export class LoginThrottle {
  private lastPurge = 0;

  constructor(
    private readonly db: Database,
    private readonly settings: LoginThrottleSettings = DEFAULT_LOGIN_THROTTLE,
  ) {}

  /** Throws LoginThrottledError when `account` may not be tried from `address` now. */
  async check(account: string, clientAddress: string): Promise<void> {
    const address = throttleAddress(clientAddress);
    const until = await lockedUntil(this.db, account, address, KNOWN_SECONDS);
    if (until) {
      throw new LoginThrottledError(Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000)));
    }
  }

  /** A failed check: counts for the pair and for the address (null account: a name that cannot exist). */
  async failed(account: string | null, clientAddress: string): Promise<void> {
    const address = throttleAddress(clientAddress);
    const { windowSeconds, lockSeconds } = this.settings;
    if (account !== null) {
      await recordFailure(this.db, account, address, {
        windowSeconds,
        limit: this.settings.maxFailuresPerAccount,
        lockSeconds,
      });
    }
    await recordFailure(this.db, WHOLE_ADDRESS, address, {
      windowSeconds,
      limit: this.settings.maxFailuresPerAddress,
      lockSeconds,
    });
    await this.purgeNowAndThen();
  }

  async succeeded(account: string, clientAddress: string): Promise<void> {
    await recordSuccess(this.db, account, throttleAddress(clientAddress));
    await this.purgeNowAndThen();
  }

  locks(limit = 100): Promise<LoginLockRow[]> {
    return listLoginLocks(this.db, limit);
  }

  /** `db` lets a caller lift inside its own transaction (to record the change with it). */
  lift(target: { account?: string; address?: string }, db: Queryable = this.db): Promise<number> {
    const { account, address } = target;
    return liftLoginLocks(db, {
      ...(account !== undefined && { account }),
      ...(address !== undefined && { address: throttleAddress(address) }),
    });
  }

  /** Deletes counters that no longer matter; returns how many went. */
  purge(): Promise<number> {
    return purgeLoginFailures(this.db, this.settings.windowSeconds, KNOWN_SECONDS);
  }

  private async purgeNowAndThen(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPurge < PURGE_INTERVAL_MS) return;
    this.lastPurge = now;
    await this.purge();
  }
}
