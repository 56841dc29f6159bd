import { pbkdf2Sync, scryptSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upgradeUserPasswordHash } from '../metadata/credential-upgrades-table.js';
import type { Database } from '../metadata/database.js';
import { openMigratedMemoryDatabase } from '../../test/helpers/memory-database.js';
import { findRobotByName, insertRobot } from '../metadata/robots-table.js';
import { findUserByName, insertUserIfAbsent, setUserPasswordHash } from '../metadata/users-table.js';
import { AuthService, isPlausibleLoginName } from './auth-service.js';
import { needsRehash } from './passwords.js';

// Hashes made with older parameters (Wharf's former N=2^15) or imported from Harbor (PBKDF2) are
// replaced by one at the current parameters at the next successful login, users and robots alike,
// and never over a password changed in the meantime.

/** A stored hash in Wharf's former scrypt parameters, made here independently of passwords.ts. */
function formerScryptHash(password: string): string {
  const salt = Buffer.from('former-salt-0001');
  const key = scryptSync(password, salt, 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return `scrypt$32768$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
}

function harborHash(password: string): string {
  const salt = 'harbor-salt';
  const key = pbkdf2Sync(password, salt, 4096, 16, 'sha256');
  return `pbkdf2-sha256$4096$${Buffer.from(salt).toString('base64')}$${key.toString('base64')}`;
}

describe('AuthService', () => {
  let db: Database;
  let auth: AuthService;

  beforeAll(async () => {
    db = await openMigratedMemoryDatabase();
    auth = new AuthService(db);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('upgrades a user hash of the former parameters at login, and only on success', async () => {
    await insertUserIfAbsent(db, 'old-timer', formerScryptHash('Former-Passw0rd'), false);
    expect(await auth.authenticate('old-timer', 'Wrong-Passw0rd', '127.0.0.1')).toBeNull();
    expect((await findUserByName(db, 'old-timer'))?.password_hash).toMatch(/^scrypt\$32768\$/);
    expect(await auth.authenticate('old-timer', 'Former-Passw0rd', '127.0.0.1')).toMatchObject({
      kind: 'user',
    });
    const stored = (await findUserByName(db, 'old-timer'))?.password_hash as string;
    expect(stored).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(needsRehash(stored)).toBe(false);
    auth.forgetVerified();
    expect(await auth.authenticate('old-timer', 'Former-Passw0rd', '127.0.0.1')).toMatchObject({
      kind: 'user',
    });
  });

  it('upgrades an imported Harbor hash of a user, and a robot secret of the former parameters', async () => {
    await insertUserIfAbsent(db, 'imported', harborHash('Harbor-Passw0rd'), false);
    expect(await auth.authenticate('imported', 'Harbor-Passw0rd', '127.0.0.1')).not.toBeNull();
    expect((await findUserByName(db, 'imported'))?.password_hash).toMatch(/^scrypt\$131072\$/);

    await insertRobot(db, {
      name: 'robot$old-bot',
      description: '',
      secretHash: formerScryptHash('Robot-Secret-0ld'),
      level: 'system',
      projectId: null,
      duration: -1,
      disabled: false,
      creator: 'admin',
      permissions: [],
    });
    expect(await auth.authenticate('robot$old-bot', 'Robot-Secret-0ld', '127.0.0.1')).toMatchObject({
      kind: 'robot',
    });
    expect((await findRobotByName(db, 'robot$old-bot'))?.secret_hash).toMatch(/^scrypt\$131072\$/);
  });

  it('an upgrade never overwrites a password changed after the check (compare-and-set)', async () => {
    const former = formerScryptHash('Racer-Passw0rd');
    await insertUserIfAbsent(db, 'racer', former, false);
    const id = (await findUserByName(db, 'racer'))?.id as number;
    // The password changed between the login's check and its upgrade: the upgrade does nothing.
    await setUserPasswordHash(db, id, 'scrypt$131072$8$1$bmV3$changed-elsewhere');
    expect(await upgradeUserPasswordHash(db, id, former, 'scrypt$131072$8$1$b2xk$upgrade')).toBe(false);
    expect((await findUserByName(db, 'racer'))?.password_hash).toBe(
      'scrypt$131072$8$1$bmV3$changed-elsewhere',
    );
    expect(
      await upgradeUserPasswordHash(
        db,
        id,
        'scrypt$131072$8$1$bmV3$changed-elsewhere',
        'scrypt$131072$8$1$b2xk$up',
      ),
    ).toBe(true);
  });

  it('tells login names that cannot exist', () => {
    for (const name of ['admin', 'robot$proj+ci', 'ä-user', 'x'.repeat(1024)]) {
      expect(isPlausibleLoginName(name)).toBe(true);
    }
    for (const name of ['', 'ad\0min', 'a\u0001', 'a\u007f', '\ud800', 'a\uFFFDb', 'x'.repeat(1025)]) {
      expect(isPlausibleLoginName(name)).toBe(false);
    }
  });
});
