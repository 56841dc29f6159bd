import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disabledLookupCache } from '../cluster/lookup-cache.js';
import type { RobotPermissionGrant } from '../domain/robot.js';
import type { Database } from '../metadata/database.js';
import { openMigratedMemoryDatabase } from '../../test/helpers/memory-database.js';
import { insertProject } from '../metadata/projects-table.js';
import { findUserByName, insertUserIfAbsent } from '../metadata/users-table.js';
import { AccessService } from './access-service.js';
import { AuthService } from './auth-service.js';
import { configurePasswordCost, hashPassword } from './passwords.js';
import type { Principal } from './principal.js';
import { ProjectService } from './project-service.js';
import { generateRobotSecret, isValidRobotSecret } from './robot-secret.js';
import { RobotService, shortName, type RobotCreateInput } from './robot-service.js';

// Expiry cannot be waited for through HTTP (durations are whole days), so it is checked here on
// the services themselves: a robot past its expires_at is refused by the auth path, and a
// duration shortened through update() (the PUT path) takes effect at once.

describe('robot expiry and secrets', () => {
  let db: Database;
  let robots: RobotService;
  let auth: AuthService;
  let admin: Principal;

  beforeAll(async () => {
    // These tests are about expiry, not the KDF (passwords.test.ts): a cheap cost keeps them fast.
    configurePasswordCost(10);
    db = await openMigratedMemoryDatabase();
    await insertUserIfAbsent(db, 'admin', await hashPassword('Admin-Passw0rd'), true);
    const row = await findUserByName(db, 'admin');
    admin = { kind: 'user', id: row?.id ?? 0, username: 'admin', sysadmin: true };
    await insertProject(db, 'proj', row?.id ?? null, { public: 'false' });
    const access = new AccessService(db, disabledLookupCache);
    const projects = new ProjectService(db, access, () => Promise.resolve('everyone'));
    auth = new AuthService(db);
    robots = new RobotService(db, projects, access, auth);
  }, 60_000);
  afterAll(async () => {
    configurePasswordCost();
    await db?.close();
  });

  const permissions: RobotPermissionGrant[] = [
    {
      kind: 'project',
      namespace: 'proj',
      access: [{ resource: 'repository', action: 'pull', effect: 'allow' }],
    },
  ];

  it('a robot whose expires_at has passed cannot authenticate', async () => {
    const { robot, secret } = await robots.create(admin, {
      name: 'soon',
      description: '',
      level: 'project',
      durationDays: 1,
      disable: false,
      permissions,
    });
    expect(robot.name).toBe('robot$proj+soon');
    expect(robot.expires_at?.getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    expect(await auth.authenticate(robot.name, secret)).toMatchObject({ kind: 'robot', id: robot.id });
    await db.query("UPDATE robots SET expires_at = now() - interval '1 second' WHERE id = $1", [robot.id]);
    auth.forgetVerified();
    expect(await auth.authenticate(robot.name, secret)).toBeNull();
  });

  it('shortening the duration through update() expires the robot at once', async () => {
    const { robot, secret } = await robots.create(admin, {
      name: 'shorten',
      description: '',
      level: 'project',
      durationDays: -1,
      disable: false,
      permissions,
    });
    expect(robot.expires_at).toBeNull();
    expect(await auth.authenticate(robot.name, secret)).not.toBeNull();
    // Made three days ago; one day of life is then over already.
    await db.query("UPDATE robots SET created_at = now() - interval '3 days' WHERE id = $1", [robot.id]);
    const updated = await robots.update(admin, robot.id, { durationDays: 1 });
    expect(updated.duration).toBe(1);
    expect(updated.expires_at?.getTime()).toBeLessThan(Date.now());
    expect(await auth.authenticate(robot.name, secret)).toBeNull();
    // And back to never.
    await robots.update(admin, robot.id, { durationDays: -1 });
    expect(await auth.authenticate(robot.name, secret)).not.toBeNull();
  });

  it('a robot caller is held to its own expiry, read from its row, to the hour', async () => {
    const own: RobotPermissionGrant[] = [
      {
        kind: 'project',
        namespace: 'proj',
        access: [
          { resource: 'project', action: 'read', effect: 'allow' },
          { resource: 'repository', action: 'pull', effect: 'allow' },
          { resource: 'robot', action: 'create', effect: 'allow' },
          { resource: 'robot', action: 'update', effect: 'allow' },
        ],
      },
    ];
    const { robot: maker } = await robots.create(admin, {
      name: 'maker',
      description: '',
      level: 'project',
      durationDays: -1,
      disable: false,
      permissions: own,
    });
    // It had a lifetime of never; now 36 hours are left, as if an admin had just shortened it.
    await db.query("UPDATE robots SET expires_at = now() + interval '36 hours' WHERE id = $1", [maker.id]);
    const caller: Principal = {
      kind: 'robot',
      id: maker.id,
      name: maker.name,
      projectId: maker.project_id,
      permissions: maker.permissions,
    };
    const make = (name: string, duration: number) =>
      robots.create(caller, {
        name,
        description: '',
        level: 'project',
        durationDays: duration,
        disable: false,
        permissions,
      });

    const { robot: child } = await make('one-day', 1);
    expect(child.expires_at?.getTime()).toBeLessThanOrEqual(Date.now() + 36 * 3_600_000);
    await expect(make('two-days', 2)).rejects.toMatchObject({ kind: 'forbidden' });
    await expect(make('never', -1)).rejects.toMatchObject({ kind: 'forbidden' });
    await expect(robots.update(caller, child.id, { durationDays: 2 })).rejects.toMatchObject({
      kind: 'forbidden',
    });
    await expect(robots.update(caller, maker.id, { durationDays: 2 })).rejects.toMatchObject({
      kind: 'forbidden',
    });

    // A robot that outlives the caller is out of its reach, even with no more permissions.
    const { robot: longer } = await robots.create(admin, {
      name: 'longer',
      description: '',
      level: 'project',
      durationDays: 3,
      disable: false,
      permissions,
    });
    await expect(robots.refreshSecret(caller, longer.id, undefined)).rejects.toMatchObject({
      kind: 'forbidden',
    });
    expect(await robots.refreshSecret(caller, child.id, undefined)).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it('typed input still meets the rules: kinds not built, lifetimes, empty lists, namespaces', async () => {
    const base = { description: '', level: 'project' as const, disable: false, permissions };
    const refusal = (name: string, extra: Partial<RobotCreateInput>) =>
      robots.create(admin, { ...base, name, ...extra });
    const system: RobotPermissionGrant = {
      kind: 'system',
      namespace: '/',
      access: [{ resource: 'repository', action: 'pull', effect: 'allow' }],
    };
    await expect(refusal('sys', { level: 'system', permissions: [system] })).rejects.toMatchObject({
      kind: 'invalid',
      message: expect.stringMatching(/permissions\[0\].*kind must be "project"/),
    });
    await expect(refusal('forever', { durationDays: 400_000 })).rejects.toMatchObject({
      kind: 'invalid',
      message: expect.stringMatching(/duration is at most 365000 days/),
    });
    await expect(refusal('half', { durationDays: 1.5 })).rejects.toMatchObject({ kind: 'invalid' });
    await expect(refusal('none', { permissions: [] })).rejects.toMatchObject({ kind: 'invalid' });
    const star: RobotPermissionGrant[] = permissions.map((p) => ({ ...p, namespace: '*' }));
    await expect(refusal('star', { permissions: star })).rejects.toMatchObject({
      kind: 'invalid',
      message: expect.stringMatching(/needs a system-level robot/),
    });
    // No duration, or 0: Harbor's default lifetime of 30 days.
    const { robot } = await robots.create(admin, { ...base, name: 'default-life', durationDays: 0 });
    expect(robot.duration).toBe(30);
  });

  it('generated secrets are strong and satisfy Harbor’s rule', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const s = generateRobotSecret();
      expect(s).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(isValidRobotSecret(s)).toBe(true);
      seen.add(s);
    }
    expect(seen.size).toBe(100);
    expect(isValidRobotSecret('password')).toBe(false);
    expect(isValidRobotSecret('Passw0rd')).toBe(true);
  });

  it('shortName strips the prefix and the project', () => {
    expect(shortName({ name: 'robot$proj+ci', level: 'project' })).toBe('ci');
    expect(shortName({ name: 'robot$ci', level: 'system' })).toBe('ci');
  });
});
