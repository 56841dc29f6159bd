import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '../helpers/postgres.js';
import { runCli } from '../helpers/run-cli.js';
import { adminAuth, startWharf, type WharfHandle } from '../helpers/server.js';

// The external database given in parts (host, port, name, user, password_file, ssl_mode) rather
// than as a URL, as a cluster's configuration usually does to keep the password in a file.

describe.runIf(process.env.WHARF_TEST_DATABASE === 'postgres')('database configured in parts', () => {
  let dir: string;
  let wharf: WharfHandle | undefined;
  let parts: { host: string; port: number; name: string; user: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-db-parts-'));
    const url = new URL(await testDatabaseUrl());
    parts = { host: url.hostname, port: Number(url.port), name: url.pathname.slice(1), user: url.username };
    // The harness's server trusts loopback connections, so the password is read but not needed.
    await writeFile(join(dir, 'db-password'), 'unused-by-trust-auth\n', { mode: 0o600 });
  });
  afterAll(async () => {
    await wharf?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const databaseYaml = (sslMode: string) =>
    [
      'database:',
      `  host: ${parts.host}`,
      `  port: ${parts.port}`,
      `  name: ${parts.name}`,
      `  user: ${parts.user}`,
      `  password_file: ${join(dir, 'db-password')}`,
      `  ssl_mode: ${sslMode}`,
    ].join('\n');

  it('connects, migrates and serves', async () => {
    wharf = await startWharf({ extraConfig: databaseYaml('disable') });
    const res = await fetch(`${wharf.url}/v2/`, { headers: { authorization: adminAuth(wharf) } });
    expect(res.status).toBe(200);
    const health = (await (await fetch(`${wharf.url}/api/v2.0/health`)).json()) as {
      components: Array<{ name: string; status: string }>;
    };
    expect(health.components.find((c) => c.name === 'database')?.status).toBe('healthy');
  });

  it('refuses to start with ssl_mode require against a server without TLS, saying why', async () => {
    const file = join(dir, 'tls.yml');
    await writeFile(file, databaseYaml('require'));
    const result = await runCli(['serve', '--config', file, '--data-dir', join(dir, 'data'), '--port', '0']);
    expect(result.code).not.toBe(0);
    expect(result.stderr + result.stdout).toMatch(/SSL/i);
  });
});
