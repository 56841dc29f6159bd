import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, startServer } from '../../src/wharf.js';
import { createProject, DEFAULT_TEST_PROJECTS, type WharfHandle } from './server.js';
import { testDatabaseUrl } from './postgres.js';

// A Wharf running inside the test process, on loopback with a port of its own (peers reach it
// over HTTP, as replication needs), on the database the vitest project asks for: the sources
// under test run as they are, without a build. Stopped by its handle.

export type InProcessWharf = Pick<WharfHandle, 'url' | 'host' | 'port' | 'adminUser' | 'adminPassword'> & {
  instanceName: string;
  stop(): Promise<void>;
};

export async function startInProcessWharf(instanceName: string): Promise<InProcessWharf> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-inproc-'));
  const adminPassword = 'Harbor12345-test';
  const databaseUrl = process.env.WHARF_TEST_DATABASE === 'postgres' ? await testDatabaseUrl() : undefined;
  const configPath = join(root, 'config.yml');
  await writeFile(
    configPath,
    stringify({
      data_dir: join(root, 'data'),
      admin_password: adminPassword,
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'error' },
      cluster: { instance_name: instanceName },
      shutdown: { drain_seconds: 0 },
      ...(databaseUrl && { database: { url: databaseUrl } }),
    }),
  );
  const config = loadConfig({ file: configPath, env: {} });
  const server = await startServer(config, createLogger(config));
  const handle: InProcessWharf = {
    url: server.url,
    host: new URL(server.url).host,
    port: server.port,
    adminUser: 'admin',
    adminPassword,
    instanceName: server.instanceName,
    async stop() {
      await server.shutdown({ drain: false });
      await rm(root, { recursive: true, force: true });
    },
  };
  for (const name of DEFAULT_TEST_PROJECTS) await createProject(handle, name);
  return handle;
}
