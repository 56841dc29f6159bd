import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './database.js';
import {
  liftLoginLocks,
  lockedUntil,
  purgeLoginFailures,
  recordFailure,
  recordSuccess,
  WHOLE_ADDRESS,
} from './login-failures-table.js';
import { openMigratedMemoryDatabase } from '../../test/helpers/memory-database.js';

// The throttle's counters: locks per (name, address) and per address, the known-address
// exemption, lifting, and the purge that keeps the table from growing with every name ever tried.

const KNOWN = 30 * 86_400;
const LIMITS = { windowSeconds: 900, limit: 3, lockSeconds: 300 };

describe('login_failures', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openMigratedMemoryDatabase();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  const rows = async () =>
    (
      await db.query<{ account: string; address: string }>(
        'SELECT account, address FROM login_failures ORDER BY 1, 2',
      )
    ).map((r) => `${r.account}@${r.address}`);

  it('locks a pair at the limit, not the name elsewhere; a locked address spares names known there', async () => {
    for (let i = 0; i < 3; i++) await recordFailure(db, 'alice', '10.0.0.1', LIMITS);
    expect(await lockedUntil(db, 'alice', '10.0.0.1', KNOWN)).toBeInstanceOf(Date);
    expect(await lockedUntil(db, 'alice', '10.0.0.2', KNOWN)).toBeNull();

    await recordSuccess(db, 'bob', '10.0.0.9');
    for (let i = 0; i < 3; i++) await recordFailure(db, WHOLE_ADDRESS, '10.0.0.9', LIMITS);
    expect(await lockedUntil(db, 'carol', '10.0.0.9', KNOWN)).toBeInstanceOf(Date);
    expect(await lockedUntil(db, 'bob', '10.0.0.9', KNOWN)).toBeNull();

    expect(await liftLoginLocks(db, { account: 'alice' })).toBe(1);
    expect(await lockedUntil(db, 'alice', '10.0.0.1', KNOWN)).toBeNull();
    expect(await liftLoginLocks(db, { address: '10.0.0.9' })).toBe(1);
    expect(await lockedUntil(db, 'carol', '10.0.0.9', KNOWN)).toBeNull();
  });

  it('purges counters whose window is over, unless locked or a recent success', async () => {
    await db.query('DELETE FROM login_failures');
    await recordFailure(db, 'stale', '10.0.1.1', LIMITS);
    await recordFailure(db, 'fresh', '10.0.1.1', LIMITS);
    for (let i = 0; i < 3; i++) await recordFailure(db, 'locked', '10.0.1.1', LIMITS);
    await recordSuccess(db, 'known', '10.0.1.1');
    await recordSuccess(db, 'forgotten', '10.0.1.1');
    // Age them: the window of every row but `fresh` is over; `forgotten` last succeeded long ago.
    await db.query(
      `UPDATE login_failures SET window_start = now() - interval '1 hour' WHERE account <> 'fresh'`,
    );
    await db.query(
      `UPDATE login_failures SET last_success = now() - interval '40 days' WHERE account = 'forgotten'`,
    );
    expect(await purgeLoginFailures(db, 900, KNOWN)).toBe(2);
    expect(await rows()).toEqual(['fresh@10.0.1.1', 'known@10.0.1.1', 'locked@10.0.1.1']);
  });
});
