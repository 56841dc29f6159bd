import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { apiCaller, basicAuth, createdId } from '../helpers/api-client.js';
import { freePort } from '../helpers/ports.js';
import { testDatabaseUrl } from '../helpers/postgres.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { adminAuth, startWharf, type WharfHandle } from '../helpers/server.js';
import { startTestWharf } from '../helpers/test-wharf.js';

// Issue #10, point 9: the first account is created once, when the database is initialised; a
// deleted admin is not recreated; a first start that fails still shows the password it made (or
// makes none); a lost password is reset from the command line; admin_password meets the policy.

const BANNER = /with the password:\s+(\S+)\s/;

/** A configuration file naming the test's database: a fresh PostgreSQL one, or none (PGlite). */
async function configFile(dir: string): Promise<{ path: string; databaseUrl: string | undefined }> {
  const databaseUrl = process.env.WHARF_TEST_DATABASE === 'postgres' ? await testDatabaseUrl() : undefined;
  const path = join(dir, 'config.yml');
  await writeFile(
    path,
    ['log:', '  level: warn', ...(databaseUrl ? ['database:', `  url: "${databaseUrl}"`] : [])].join('\n'),
  );
  return { path, databaseUrl };
}

/** Runs the built CLI with `input` on its standard input (and no admin password from the environment). */
function runCliWithInput(args: string[], input: string): Promise<CliResult> {
  return runCli(args, { WHARF_ADMIN_PASSWORD: undefined }, 60_000, input);
}

async function canLogIn(url: string, username: string, password: string): Promise<boolean> {
  const res = await fetch(`${url}/api/v2.0/users/current`, {
    headers: { authorization: basicAuth(username, password) },
  });
  if (res.status !== 200 && res.status !== 401) throw new Error(`unexpected ${res.status}`);
  return res.status === 200;
}

describe('the first account', () => {
  let wharf: WharfHandle | undefined;
  const dirs: string[] = [];
  let blocker: Server | undefined;
  afterEach(async () => {
    await wharf?.stop();
    wharf = undefined;
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
    blocker = undefined;
  });
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('is not recreated at the next start once an administrator has deleted it', async () => {
    wharf = await startTestWharf({ projects: [] });
    const call = apiCaller(() => (wharf as WharfHandle).url);
    const created = await call('POST', '/users', adminAuth(wharf), {
      username: 'root2',
      password: 'Second-Adm1n',
    });
    expect(created.status).toBe(201);
    const rootId = createdId(created);
    expect(
      (await call('PUT', `/users/${rootId}/sysadmin`, adminAuth(wharf), { sysadmin_flag: true })).status,
    ).toBe(200);
    const root2 = basicAuth('root2', 'Second-Adm1n');
    const admins = (await (await call('GET', '/users?username=admin', root2)).json()) as {
      user_id: number;
    }[];
    expect(admins).toHaveLength(1);
    expect((await call('DELETE', `/users/${admins[0]?.user_id}`, root2)).status).toBe(200);

    await wharf.restart();
    expect(await canLogIn(wharf.url, 'admin', wharf.adminPassword)).toBe(false);
    const after = (await (await call('GET', '/users?username=admin', root2)).json()) as unknown[];
    expect(after).toEqual([]);
  });

  it('is shown when a first start fails after creating it (port in use), and works on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-admin-'));
    dirs.push(dir);
    const { path, databaseUrl } = await configFile(dir);
    const port = await freePort();
    const server = createServer();
    blocker = server;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    const dataDir = join(dir, 'data');
    const failed = await runCli(
      ['serve', '--config', path, '--port', String(port), '--data-dir', dataDir],
      { WHARF_ADMIN_PASSWORD: undefined },
      60_000,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/EADDRINUSE|address already in use/i);
    // The account exists now, so its password must have reached the operator.
    const password = BANNER.exec(failed.stdout)?.[1];
    expect(password, `banner in:\n${failed.stdout}`).toBeTruthy();

    wharf = await startWharf({ dataDir, adminPassword: null, databaseUrl, projects: [] });
    expect(await canLogIn(wharf.url, 'admin', password as string)).toBe(true);
    expect(wharf.output()).not.toMatch(/created the account/);
  });

  it('refuses an admin_password that does not meet the password policy, and creates nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-admin-'));
    dirs.push(dir);
    const { path, databaseUrl } = await configFile(dir);
    const dataDir = join(dir, 'data');
    // Long enough for the configuration's length check, but no uppercase letter.
    const weak = await runCli(
      ['serve', '--config', path, '--port', String(await freePort()), '--data-dir', dataDir],
      { WHARF_ADMIN_PASSWORD: 'weakpassword1' },
      90_000, // a start that took the weak password would run until this kills it
    );
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/admin_password: the password must be 8 to 128 characters/);

    // Nothing was initialised: the next start with a good password creates the account with it.
    wharf = await startWharf({ dataDir, adminPassword: 'Strong-Passw0rd', databaseUrl, projects: [] });
    expect(await canLogIn(wharf.url, 'admin', 'Strong-Passw0rd')).toBe(true);
    expect(await canLogIn(wharf.url, 'admin', 'weakpassword1')).toBe(false);
  });

  it('gets a new password from "wharf admin reset-password"; the old one stops working', async () => {
    wharf = await startTestWharf({ projects: [] });
    const w = wharf;
    const oldPassword = w.adminPassword;
    await w.kill(); // the embedded database admits one process: the operator stops the server first
    const cli = (extra: string[]) => [
      'admin',
      'reset-password',
      ...extra,
      '--config',
      w.configPath,
      '--data-dir',
      w.dataDir,
    ];

    const weak = await runCliWithInput(cli(['admin', '--password-stdin']), 'weakpass\n');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/the password must be 8 to 128 characters/);
    const unknown = await runCliWithInput(cli(['nobody', '--password-stdin']), 'Chosen-Passw0rd\n');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/user nobody not found/);

    const chosen = await runCliWithInput(cli(['admin', '--password-stdin']), 'Chosen-Passw0rd\n');
    expect(chosen.code, chosen.stderr).toBe(0);
    await w.restart();
    expect(await canLogIn(w.url, 'admin', oldPassword)).toBe(false);
    expect(await canLogIn(w.url, 'admin', 'Chosen-Passw0rd')).toBe(true);

    await w.kill();
    const generated = await runCliWithInput(cli(['admin']), '');
    expect(generated.code, generated.stderr).toBe(0);
    const password = /is:\s+(\S+)\s/.exec(generated.stdout)?.[1];
    expect(password).toBeTruthy();
    await w.restart();
    expect(await canLogIn(w.url, 'admin', 'Chosen-Passw0rd')).toBe(false);
    expect(await canLogIn(w.url, 'admin', password as string)).toBe(true);
  });
});
