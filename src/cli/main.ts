import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load.js';
import { fsck } from '../services/fsck-service.js';
import { createLogger, DataDirLockedError, openBackends, startServer } from '../wharf.js';
import { privatePaths } from '../private-paths.js';
import type { FirstAccount } from '../services/first-account.js';
import { runAdmin } from './admin-command.js';
import { configFrom } from './config-args.js';
import { runGcCommand } from './gc-command.js';
import { runImport } from './import-command.js';

const USAGE = `Usage:
  wharf serve [--config FILE] [--port N] [--data-dir DIR]
  wharf fsck  [--config FILE] [--data-dir DIR] [--repair]
  wharf gc    [--config FILE] [--data-dir DIR] [--dry-run] [--delete-untagged] [--workers N]
  wharf import harbor --database-url URL [--config FILE] [--data-dir DIR] [--dry-run]
  wharf admin reset-password USER [--config FILE] [--data-dir DIR] [--password-stdin]

Environment: WHARF_CONFIG, WHARF_PORT, WHARF_DATA_DIR, WHARF_ADMIN_PASSWORD, WHARF_DATABASE_URL, WHARF_LOG_LEVEL`;

/** Printed once, when the database is initialised; only the password's hash is stored. */
function printFirstAccount(account: FirstAccount): void {
  if (account.generatedPassword === null) {
    console.log(`Wharf created the account "${account.username}" with the configured admin_password.`);
    return;
  }
  console.log(
    `\nWharf created the account "${account.username}" with the password:\n\n    ${account.generatedPassword}\n\n` +
      'It is shown only this once. Set admin_password (or WHARF_ADMIN_PASSWORD) before the first start to\n' +
      'choose it; later, "wharf admin reset-password admin" sets a new one.\n',
  );
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' } },
  });
  const config = configFrom(values);
  const logger = createLogger(config);
  const server = await startServer(config, logger, { onFirstAccount: printFirstAccount });
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
      // Never younger than GC's grace period: what GC leaves alone is no problem for fsck either.
      graceMs: Math.max(60, config.gc.grace_period_minutes) * 60_000,
      privatePaths: privatePaths(config),
      onProgress: (m) => console.error(m),
    });
    for (const p of report.problems) {
      console.log(`${p.repaired ? 'repaired' : 'problem '}  ${p.kind.padEnd(20)} ${p.subject}  ${p.detail}`);
    }
    const open = report.problems.filter((p) => !p.repaired).length;
    // "Clean" only when nothing was found: a repair that quarantined bytes still leaves the
    // artifacts that used them to be pushed again, and they are listed above.
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
  // Before any file is made: the embedded database (whose WAL holds password and secret hashes),
  // blobs and key files are the owner's only (files 0600, directories 0700).
  process.umask(0o077);
  const [command, ...rest] = process.argv.slice(2);
  try {
    switch (command) {
      case 'serve':
        await serve(rest);
        return;
      case 'fsck':
        process.exitCode = await runFsck(rest);
        return;
      case 'gc':
        process.exitCode = await runGcCommand(rest);
        return;
      case 'import':
        process.exitCode = await runImport(rest);
        return;
      case 'admin':
        process.exitCode = await runAdmin(rest);
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
