import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { WharfConfig } from '../config/schema.js';
import { DataDirLockedError } from '../metadata/data-dir-lock.js';
import { fsck } from '../services/fsck-service.js';
import { createLogger, openBackends, startServer } from '../wharf.js';
import { runImport } from './import-command.js';

const USAGE = `Usage:
  wharf serve [--config FILE] [--port N] [--data-dir DIR]
  wharf fsck  [--config FILE] [--data-dir DIR] [--repair]
  wharf import harbor --database-url URL [--config FILE] [--data-dir DIR] [--dry-run]

Environment: WHARF_CONFIG, WHARF_PORT, WHARF_DATA_DIR, WHARF_ADMIN_PASSWORD, WHARF_DATABASE_URL, WHARF_LOG_LEVEL`;

function configFrom(values: {
  config?: string | undefined;
  port?: string | undefined;
  'data-dir'?: string | undefined;
}): WharfConfig {
  let port: number | undefined;
  if (values.port !== undefined) {
    if (!/^\d+$/.test(values.port)) throw new ConfigError(`--port: must be a number (got "${values.port}")`);
    port = Number(values.port);
  }
  return loadConfig({
    ...(values.config !== undefined && { file: values.config }),
    overrides: {
      ...(port !== undefined && { port }),
      ...(values['data-dir'] !== undefined && { dataDir: values['data-dir'] }),
    },
  });
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' } },
  });
  const config = configFrom(values);
  const logger = createLogger(config);
  const server = await startServer(config, logger);
  if (server.generatedAdminPassword) {
    // Printed once, on the first start; only its hash is stored.
    console.log(
      `\nWharf created the account "admin" with the password:\n\n    ${server.generatedAdminPassword}\n\n` +
        'It is shown only this once. Set admin_password (or WHARF_ADMIN_PASSWORD) before the first start to choose it.\n',
    );
  }
  logger.info(
    { url: server.url, dataDir: config.data_dir, database: config.database.url ? 'postgres' : 'pglite' },
    'wharf listening',
  );
  let signals = 0;
  const stop = (signal: string) => {
    signals++;
    if (signals > 1) process.exit(1);
    logger.info({ signal }, 'shutting down');
    // A shutdown that hangs (a database that stopped answering mid-failover) must not outlive its
    // bounds: after drain, grace and a margin, exit anyway.
    const boundSeconds = config.shutdown.drain_seconds + config.shutdown.grace_seconds + 15;
    setTimeout(() => {
      logger.error({ seconds: boundSeconds }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, boundSeconds * 1000).unref();
    // Ctrl-C at a terminal stops at once; SIGTERM (service managers, rolling restarts) drains first.
    server.shutdown({ drain: signal !== 'SIGINT' }).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function runFsck(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      repair: { type: 'boolean', default: false },
    },
  });
  const config = configFrom(values);
  const backends = await openBackends(config);
  const { db, storage } = backends;
  try {
    const report = await fsck(db, storage, {
      repair: values.repair ?? false,
      graceMs: 60 * 60_000,
      onProgress: (m) => console.error(m),
    });
    for (const p of report.problems) {
      console.log(`${p.repaired ? 'repaired' : 'problem '}  ${p.kind.padEnd(20)} ${p.subject}  ${p.detail}`);
    }
    const open = report.problems.filter((p) => !p.repaired).length;
    console.log(
      `fsck: ${report.blobsChecked} blobs checked, ${report.problems.length} problem(s), ${open} unrepaired` +
        (report.problems.length === 0 ? ' — the store is clean' : ''),
    );
    return open === 0 ? 0 : 1;
  } finally {
    await backends.close();
  }
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    switch (command) {
      case 'serve':
        await serve(rest);
        return;
      case 'fsck':
        process.exitCode = await runFsck(rest);
        return;
      case 'import':
        process.exitCode = await runImport(rest);
        return;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return;
      default:
        console.error(`wharf: unknown command "${command}"\n${USAGE}`);
        process.exitCode = 2;
    }
  } catch (err) {
    if (
      err instanceof ConfigError ||
      err instanceof DataDirLockedError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(`wharf: ${(err as Error).message}`);
      process.exitCode = 2;
      return;
    }
    console.error('wharf: failed to start:', err instanceof Error ? err.message : err);
    // Exit now: connections opened before the failure (Redis, the database pool, a listening
    // socket) would otherwise keep a half-started process alive, and a service manager would
    // never restart it.
    process.exit(1);
  }
}

await main();
