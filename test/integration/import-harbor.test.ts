import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/metadata/database.js';
import { migrate } from '../../src/metadata/migrate.js';
import { openPgliteDatabase } from '../../src/metadata/pglite-database.js';
import { openPostgresDatabase } from '../../src/metadata/postgres-database.js';
import { importHarbor } from '../../src/services/import/harbor-import.js';
import { verifyPassword } from '../../src/services/passwords.js';
import { testDatabaseUrl } from '../helpers/postgres.js';
import { runCli } from '../helpers/run-cli.js';
import { REPO_ROOT, startWharf, type WharfHandle } from '../helpers/server.js';

// `wharf import harbor` against a Harbor-shaped database in the real PostgreSQL: the CLI as a user
// runs it (dry run, real run, second run), then logins over /v2 with the imported credentials.
// Password hashes were computed for this test with Python's hashlib.pbkdf2_hmac(digest, password,
// salt, 4096, 16).hex(), the derivation Harbor stores.

const HARBOR_SCHEMA = join(REPO_ROOT, 'test', 'fixtures', 'harbor-schema.sql');

const HARBOR_2X_ROWS = `
INSERT INTO harbor_user (user_id, username, email, password, salt, password_version, realname, comment, deleted, sysadmin_flag) VALUES
  (1, 'admin', 'admin@example.com', 'c9bdc0d874475fe1d8c98e2e32b68db2', 'AdminSaltAdminSaltAdminSalt12345', 'sha256', 'system admin', 'admin user', false, true),
  (2, 'anonymous', 'anonymous@example.com', '', NULL, 'sha256', 'anonymous user', 'anonymous user', true, false),
  (3, 'alice', 'alice@example.com', '295baeb94778d98a6fd61f6240d2cdc3', 'aliceSALT0123456789aliceSALT0123', 'sha1', 'Alice A.', 'from 1.x', false, false),
  (4, 'bob', 'bob@example.com', 'c4f4d11a69952e35b85d64f54c9c1dca', 'bobSALTbobSALTbobSALTbobSALT0000', 'sha256', 'Bob B.', '', false, true),
  (5, 'carol#5', 'carol@example.com#5', 'e42d82f37066d720fdd3630b4427efa6', 'carolSALTcarolSALTcarolSALT00000', 'sha256', 'Carol C.', '', true, false),
  (6, 'dave', 'dave@example.com', '', '', 'sha256', 'Dave (LDAP)', '', false, false),
  (7, 'frank', NULL, '295baeb94778d98a6fd61f6240d2cdc3', 'aliceSALT0123456789aliceSALT0123', 'sha1', 'Frank F.', '', false, false);
INSERT INTO project (project_id, owner_id, name, deleted) VALUES
  (1, 1, 'library', false),
  (2, 3, 'secret-app', false),
  (3, 4, 'old#3', true);
INSERT INTO project_metadata (project_id, name, value) VALUES
  (1, 'public', 'true'),
  (1, 'auto_scan', 'true'),
  (2, 'public', 'false'),
  (2, 'auto_scan', 'true'),
  (3, 'public', 'true');
INSERT INTO user_group (id, group_name, group_type, ldap_group_dn) VALUES (1, 'devs', 1, 'cn=devs,dc=example,dc=com');
INSERT INTO project_member (project_id, entity_id, entity_type, role) VALUES
  (1, 1, 'u', 1),
  (1, 4, 'u', 2),
  (2, 3, 'u', 1),
  (2, 4, 'u', 3),
  (2, 5, 'u', 2),
  (2, 1, 'g', 2),
  (3, 4, 'u', 1);
INSERT INTO robot (id, name, description, project_id, expiresat, disabled, visible, secret, salt, duration, creator) VALUES
  (1, 'secret-app+ci', 'CI pushes', 2, -1, false, true, '442ad2b1ff476e021bc50ea4f3ee0474', 'robotSALTrobotSALTrobotSALT00000', -1, 'alice'),
  (2, 'ops', 'operations', 0, 2000000000, false, true, '5de7429d7e961ad943f435205db0d291', 'opsSALTopsSALTopsSALTopsSALT0000', 30, 'admin'),
  (3, 'scanner-x', 'made by Harbor', 0, -1, false, false, 'ffffffffffffffffffffffffffffffff', 'x', -1, 'harbor'),
  (4, 'robot$old-bot', '1.x robot', 2, 1900000000, false, true, NULL, NULL, NULL, NULL);
INSERT INTO permission_policy (id, scope, resource, action, effect) VALUES
  (1, '/project/2', 'repository', 'pull', 'allow'),
  (2, '/project/2', 'repository', 'push', 'allow'),
  (3, '/project/2', 'artifact', 'read', ''),
  (4, '/project/*', 'repository', 'pull', 'allow'),
  (5, '/system', 'project', 'create', 'allow'),
  (6, '/project/3', 'repository', 'pull', 'allow');
INSERT INTO role_permission (role_type, role_id, permission_policy_id) VALUES
  ('robotaccount', 1, 1), ('robotaccount', 1, 2), ('robotaccount', 1, 3),
  ('robotaccount', 2, 4), ('robotaccount', 2, 5), ('robotaccount', 2, 6);
INSERT INTO schema_migrations (version, dirty) VALUES (100, false);
`;

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Every row the import may write, with updated_at, so "nothing changed" means nothing was written. */
async function snapshot(db: Database): Promise<unknown> {
  return {
    users: await db.query('SELECT * FROM users ORDER BY id'),
    projects: await db.query('SELECT * FROM projects ORDER BY id'),
    metadata: await db.query('SELECT * FROM project_metadata ORDER BY project_id, name'),
    members: await db.query('SELECT * FROM project_members ORDER BY id'),
    robots: await db.query('SELECT * FROM robots ORDER BY id'),
  };
}

/** The summary row of a kind: created, updated, unchanged, skipped. */
function counts(stdout: string, kind: string): [number, number, number, number] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${kind} `));
  const values = line?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  if (values.length !== 4) throw new Error(`no summary line for ${kind} in:\n${stdout}`);
  return values as [number, number, number, number];
}

async function harborDatabase(rows: string, alter = ''): Promise<{ url: string; db: Database }> {
  const url = await testDatabaseUrl();
  const db = await openPostgresDatabase({ connection: { connectionString: url }, poolSize: 2 });
  await db.execScript(await readFile(HARBOR_SCHEMA, 'utf8'));
  await db.execScript(alter);
  await db.execScript(rows);
  return { url, db };
}

describe.runIf(process.env.WHARF_TEST_DATABASE === 'postgres')('wharf import harbor (2.x)', () => {
  let wharf: WharfHandle;
  let harbor: { url: string; db: Database };
  let target: Database;
  const importCli = (...extra: string[]) =>
    runCli(['import', 'harbor', '--database-url', harbor.url, '--config', wharf.configPath, ...extra]);
  const v2 = (auth: string, path = '/v2/') =>
    fetch(`${wharf.url}${path}`, { headers: { authorization: auth } });

  beforeAll(async () => {
    harbor = await harborDatabase(HARBOR_2X_ROWS);
    const databaseUrl = await testDatabaseUrl();
    // No test projects: the projects below are exactly what the import brings.
    wharf = await startWharf({ databaseUrl, projects: [] });
    target = await openPostgresDatabase({ connection: { connectionString: databaseUrl }, poolSize: 2 });
  });

  afterAll(async () => {
    await wharf?.stop();
    await target?.close();
    await harbor?.db.close();
  });

  it("refuses a database that is not Harbor's, and a missing --database-url", async () => {
    const notHarbor = await runCli([
      'import',
      'harbor',
      '--database-url',
      wharf.databaseUrl as string,
      '--config',
      wharf.configPath,
    ]);
    expect(notHarbor.code).toBe(1);
    expect(notHarbor.stderr).toContain('no harbor_user table');
    const missing = await runCli(['import', 'harbor', '--config', wharf.configPath]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--database-url');
  });

  it('--dry-run prints what would change and writes nothing', async () => {
    const before = await snapshot(target);
    const r = await importCli('--dry-run');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('dry run');
    expect(r.stdout).toMatch(/would create\s+user\s+alice/);
    expect(r.stdout).toMatch(/would update\s+user\s+admin/);
    expect(r.stdout).toMatch(/would create\s+project\s+secret-app/);
    expect(r.stdout).toMatch(/would create\s+member\s+secret-app\/bob/);
    expect(r.stdout).toMatch(/would create\s+robot\s+robot\$secret-app\+ci/);
    expect(counts(r.stdout, 'users')).toEqual([4, 1, 0, 2]);
    expect(await snapshot(target)).toEqual(before);
  });

  it('imports users, projects, members and robots', async () => {
    const r = await importCli();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('dry run');
    // admin is Wharf's own account (updated, password kept); alice, bob, dave, frank are new;
    // anonymous and the deleted carol are skipped.
    expect(counts(r.stdout, 'users')).toEqual([4, 1, 0, 2]);
    // Wharf may have made "library" at its first start, as Harbor does: then it is updated or
    // unchanged rather than created. Either way the rows below are what Harbor had.
    const [pc, pu, pn, ps] = counts(r.stdout, 'projects');
    expect([pc + pu + pn, ps]).toEqual([2, 1]);
    // admin and bob in library, alice and bob in secret-app; carol, the group and old#3's are skipped.
    const [mc, mu, mn, ms] = counts(r.stdout, 'members');
    expect([mc + mu + mn, ms]).toEqual([4, 3]);
    expect(counts(r.stdout, 'robots')).toEqual([3, 0, 0, 1]);
    expect(r.stdout).toContain('Harbor schema version 100');
    expect(r.stdout).toMatch(/To do by hand:[\s\S]*robot\$secret-app\+old-bot/);

    const users = await target.query<{
      username: string;
      email: string | null;
      realname: string;
      comment: string;
      sysadmin: boolean;
      password_hash: string;
    }>('SELECT username, email, realname, comment, sysadmin, password_hash FROM users ORDER BY username');
    expect(users.map((u) => u.username)).toEqual(['admin', 'alice', 'bob', 'dave', 'frank']);
    const byName = new Map(users.map((u) => [u.username, u]));
    expect(byName.get('alice')).toMatchObject({
      email: 'alice@example.com',
      realname: 'Alice A.',
      comment: 'from 1.x',
      sysadmin: false,
    });
    expect(byName.get('alice')?.password_hash).toMatch(/^pbkdf2-sha1\$4096\$/);
    expect(byName.get('bob')).toMatchObject({ sysadmin: true });
    expect(byName.get('bob')?.password_hash).toMatch(/^pbkdf2-sha256\$4096\$/);
    expect(byName.get('admin')).toMatchObject({
      email: 'admin@example.com',
      realname: 'system admin',
      sysadmin: true,
    });
    expect(byName.get('admin')?.password_hash).toMatch(/^scrypt\$/);
    expect(byName.get('frank')?.email).toBeNull();

    const projects = await target.query<{ name: string; owner: string | null; public: string | null }>(
      `SELECT p.name, u.username AS owner,
         (SELECT value FROM project_metadata m WHERE m.project_id = p.id AND m.name = 'public') AS public
       FROM projects p LEFT JOIN users u ON u.id = p.owner_id ORDER BY p.name`,
    );
    expect(projects).toEqual([
      { name: 'library', owner: 'admin', public: 'true' },
      { name: 'secret-app', owner: 'alice', public: 'false' },
    ]);
    const members = await target.query<{ project: string; username: string; role: number }>(
      `SELECT p.name AS project, u.username, m.role FROM project_members m
       JOIN projects p ON p.id = m.project_id JOIN users u ON m.entity_type = 'u' AND u.id = m.entity_id
       ORDER BY p.name, u.username`,
    );
    expect(members).toEqual([
      { project: 'library', username: 'admin', role: 1 },
      { project: 'library', username: 'bob', role: 2 },
      { project: 'secret-app', username: 'alice', role: 1 },
      { project: 'secret-app', username: 'bob', role: 3 },
    ]);

    const robots = await target.query<{
      name: string;
      level: string;
      project: string | null;
      disabled: boolean;
      duration: number;
      expires_at: Date | null;
      permissions: unknown;
      creator: string;
    }>(
      `SELECT r.name, r.level, p.name AS project, r.disabled, r.duration, r.expires_at, r.permissions, r.creator
       FROM robots r LEFT JOIN projects p ON p.id = r.project_id ORDER BY r.name`,
    );
    expect(robots).toEqual([
      {
        name: 'robot$ops',
        level: 'system',
        project: null,
        disabled: false,
        duration: 30,
        expires_at: new Date(2_000_000_000_000),
        creator: 'admin',
        // The scope on the deleted project old#3 is dropped.
        permissions: [
          {
            kind: 'project',
            namespace: '*',
            access: [{ resource: 'repository', action: 'pull', effect: 'allow' }],
          },
          {
            kind: 'system',
            namespace: '/',
            access: [{ resource: 'project', action: 'create', effect: 'allow' }],
          },
        ],
      },
      {
        name: 'robot$secret-app+ci',
        level: 'project',
        project: 'secret-app',
        disabled: false,
        duration: -1,
        expires_at: null,
        creator: 'alice',
        permissions: [
          {
            kind: 'project',
            namespace: 'secret-app',
            access: [
              { resource: 'artifact', action: 'read', effect: 'allow' },
              { resource: 'repository', action: 'pull', effect: 'allow' },
              { resource: 'repository', action: 'push', effect: 'allow' },
            ],
          },
        ],
      },
      {
        // A 1.x-style robot: renamed the 2.x way, disabled, no permissions, a random secret.
        name: 'robot$secret-app+old-bot',
        level: 'project',
        project: 'secret-app',
        disabled: true,
        duration: expect.any(Number),
        expires_at: new Date(1_900_000_000_000),
        creator: '',
        permissions: [],
      },
    ]);
  });

  it('a second run changes nothing', async () => {
    const before = await snapshot(target);
    const r = await importCli();
    expect(r.code, r.stderr).toBe(0);
    expect(counts(r.stdout, 'users')).toEqual([0, 0, 5, 2]);
    expect(counts(r.stdout, 'projects')).toEqual([0, 0, 2, 1]);
    expect(counts(r.stdout, 'members')).toEqual([0, 0, 4, 3]);
    expect(counts(r.stdout, 'robots')).toEqual([0, 0, 3, 1]);
    expect(await snapshot(target)).toEqual(before);
  });

  it('imported users log in with their Harbor passwords, which become scrypt at the first login', async () => {
    const hashOf = async (username: string) =>
      (
        await target.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = $1', [
          username,
        ])
      )[0]?.password_hash;

    expect((await v2(basic('alice', 'Alice-passw0rd'))).status).toBe(200);
    expect((await v2(basic('alice', 'Alice-passw0rd-wrong'))).status).toBe(401);
    expect((await v2(basic('bob', 'B0b-secret-pass'))).status).toBe(200);
    expect((await v2(basic('bob', 'b0b-secret-pass'))).status).toBe(401);
    // Not imported (deleted in Harbor), no local password (LDAP), and Wharf's admin keeps its own.
    expect((await v2(basic('carol#5', 'Carol-pass-9'))).status).toBe(401);
    expect((await v2(basic('dave', ''))).status).toBe(401);
    expect((await v2(basic('admin', 'Harbor-admin-1'))).status).toBe(401);
    expect((await v2(basic('admin', wharf.adminPassword))).status).toBe(200);

    // The login path (AuthService) calls needsRehash after a successful login.
    for (const [user, password] of [
      ['alice', 'Alice-passw0rd'],
      ['bob', 'B0b-secret-pass'],
    ] as const) {
      const hash = (await hashOf(user)) as string;
      expect(hash).toMatch(/^scrypt\$/);
      expect(await verifyPassword(password, hash)).toBe(true);
    }
    expect(await hashOf('frank')).toMatch(/^pbkdf2-sha1\$/);

    // The upgraded hashes are Wharf's now: importing again leaves them alone.
    const r = await importCli();
    expect(r.code, r.stderr).toBe(0);
    expect(counts(r.stdout, 'users')).toEqual([0, 0, 5, 2]);
    expect(await hashOf('alice')).toMatch(/^scrypt\$/);
  });

  it('memberships and visibility work as in Harbor', async () => {
    const alice = basic('alice', 'Alice-passw0rd');
    const frank = basic('frank', 'Alice-passw0rd');
    // A member sees the private project (the repository is absent); a non-member is told the
    // project does not exist or is not theirs, as for a missing one (private means invisible).
    const member = await v2(alice, '/v2/secret-app/app/tags/list');
    expect(member.status).toBe(404);
    expect(await member.text()).not.toMatch(/no access/);
    const outsider = await v2(frank, '/v2/secret-app/app/tags/list');
    expect(outsider.status).toBe(404);
    expect(await outsider.text()).toMatch(/project secret-app does not exist or you have no access/);
    expect((await v2(frank, '/v2/library/app/tags/list')).status).toBe(404);
  });

  it('robots log in with their Harbor secrets; a 1.x robot stays disabled', async () => {
    expect((await v2(basic('robot$secret-app+ci', 'Robot-Secret-123'))).status).toBe(200);
    expect((await v2(basic('robot$secret-app+ci', 'Robot-Secret-124'))).status).toBe(401);
    expect((await v2(basic('robot$ops', 'Ops-Secret-456'))).status).toBe(200);
    expect(
      (await v2(basic('robot$secret-app+ci', 'Robot-Secret-123'), '/v2/secret-app/app/tags/list')).status,
    ).toBe(404);
    expect((await v2(basic('robot$ops', 'Ops-Secret-456'), '/v2/secret-app/app/tags/list')).status).toBe(404);
  });
});

// What a Harbor 1.x database lacks: password_version (every hash is sha1), robot secrets and
// robot permission tables, proxy-cache projects; 1.x soft-deletes project metadata and calls the
// maintainer role "master".
const HARBOR_1X_ALTER = `
ALTER TABLE harbor_user DROP COLUMN password_version;
ALTER TABLE robot DROP COLUMN secret, DROP COLUMN salt, DROP COLUMN duration, DROP COLUMN creator, DROP COLUMN visible;
ALTER TABLE project DROP COLUMN registry_id;
ALTER TABLE project_metadata ADD COLUMN deleted boolean DEFAULT false NOT NULL;
UPDATE role SET name = 'master' WHERE role_id = 4;
DROP TABLE role_permission, permission_policy, user_group, properties, oidc_user, schema_migrations;
`;

const HARBOR_1X_ROWS = `
INSERT INTO harbor_user (user_id, username, email, password, salt, realname, comment, deleted, sysadmin_flag) VALUES
  (1, 'admin', 'admin@example.com', 'c9bdc0d874475fe1d8c98e2e32b68db2', 'x', 'system admin', 'admin user', false, true),
  (3, 'eve', 'eve@example.com', 'f3a8a7ce30534027a1a322c00bdba14d', 'eveSALTeveSALTeveSALTeveSALT0000', 'Eve E.', '', false, false);
INSERT INTO project (project_id, owner_id, name) VALUES (1, 1, 'library'), (2, 3, 'legacy');
INSERT INTO project_metadata (project_id, name, value, deleted) VALUES
  (2, 'public', 'false', false),
  (2, 'auto_scan', 'true', true);
INSERT INTO project_member (project_id, entity_id, entity_type, role) VALUES (2, 3, 'u', 4), (2, 9, 'g', 2);
INSERT INTO robot (id, name, description, project_id, expiresat, disabled) VALUES
  (1, 'robot$builder', 'builds', 2, 1900000000, false);
`;

describe.runIf(process.env.WHARF_TEST_DATABASE === 'postgres')('wharf import harbor (1.x)', () => {
  let harbor: { url: string; db: Database };
  let target: Database;

  beforeAll(async () => {
    harbor = await harborDatabase(HARBOR_1X_ROWS, HARBOR_1X_ALTER);
    target = await openPostgresDatabase({
      connection: { connectionString: await testDatabaseUrl() },
      poolSize: 2,
    });
    await migrate(target);
  });

  afterAll(async () => {
    await target?.close();
    await harbor?.db.close();
  });

  it('reads what 1.x has and imports it, idempotently', async () => {
    const report = await target.transaction((tx) => importHarbor(harbor.db, tx, { dryRun: false }));
    expect(report.harborSchemaVersion).toBeNull();
    // A fresh Wharf database without its admin yet: Harbor's admin is created with Harbor's hash.
    expect(report.counts.users).toEqual({ created: 2, updated: 0, unchanged: 0, skipped: 0 });
    expect(report.counts.members).toEqual({ created: 1, updated: 0, unchanged: 0, skipped: 1 });
    expect(report.counts.robots).toEqual({ created: 1, updated: 0, unchanged: 0, skipped: 0 });
    expect(report.warnings.some((w) => w.includes('group memberships'))).toBe(true);

    const [eve] = await target.query<{ password_hash: string }>(
      "SELECT password_hash FROM users WHERE username = 'eve'",
    );
    expect(eve?.password_hash).toMatch(/^pbkdf2-sha1\$4096\$/);
    expect(await verifyPassword('Eve-1x-password', eve?.password_hash as string)).toBe(true);

    // Soft-deleted metadata is not brought over; 1.x's "master" role id 4 is maintainer.
    const metadata = await target.query(
      "SELECT m.name, m.value FROM project_metadata m JOIN projects p ON p.id = m.project_id WHERE p.name = 'legacy'",
    );
    expect(metadata).toEqual([{ name: 'public', value: 'false' }]);
    const [member] = await target.query<{ role: number }>('SELECT role FROM project_members');
    expect(member?.role).toBe(4);

    const [robot] = await target.query<{ name: string; disabled: boolean; permissions: unknown }>(
      'SELECT name, disabled, permissions FROM robots',
    );
    expect(robot).toEqual({ name: 'robot$legacy+builder', disabled: true, permissions: [] });

    const again = await target.transaction((tx) => importHarbor(harbor.db, tx, { dryRun: false }));
    expect(again.changes.filter((c) => c.outcome !== 'skipped')).toEqual([]);
  });

  it('imports into the embedded database (PGlite) the same way', async () => {
    const embedded = await openPgliteDatabase(undefined);
    try {
      await migrate(embedded);
      const first = await embedded.transaction((tx) => importHarbor(harbor.db, tx, { dryRun: false }));
      const again = await embedded.transaction((tx) => importHarbor(harbor.db, tx, { dryRun: false }));
      expect(again.counts).toEqual({
        users: { created: 0, updated: 0, unchanged: first.counts.users.created, skipped: 0 },
        projects: { created: 0, updated: 0, unchanged: first.counts.projects.created, skipped: 0 },
        members: { created: 0, updated: 0, unchanged: 1, skipped: 1 },
        robots: { created: 0, updated: 0, unchanged: 1, skipped: 0 },
      });
      const [eve] = await embedded.query<{ password_hash: string }>(
        "SELECT password_hash FROM users WHERE username = 'eve'",
      );
      expect(await verifyPassword('Eve-1x-password', eve?.password_hash as string)).toBe(true);
    } finally {
      await embedded.close();
    }
  });
});
