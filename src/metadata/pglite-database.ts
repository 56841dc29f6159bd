import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PGlite, types } from '@electric-sql/pglite';
import { lockDataDir } from './data-dir-lock.js';
import type { Database, Queryable, SqlParam } from './database.js';

// int8 columns (sizes, ids) as JS numbers: every value we store stays below 2^53.
const parsers = { [types.INT8]: (value: string) => Number(value) };

export interface PgliteOpenOptions {
  /**
   * For a database in memory (no dataDir): starts from this copy of a data directory (a tarball
   * from PGlite's dumpDataDir) instead of an empty initdb, which costs many seconds.
   */
  initialData?: Blob;
}

/** Opens the embedded database in `dataDir` (created there if new), or in memory without one. */
export async function openPgliteDatabase(
  dataDir: string | undefined,
  options: PgliteOpenOptions = {},
): Promise<Database> {
  let unlock = () => undefined as void;
  if (dataDir) {
    // The WAL and tables hold password and secret hashes: the owner's only. PGlite creates its
    // files with the process umask (the CLI sets 077); a private directory keeps others out even
    // of files made under a looser one.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
    unlock = lockDataDir(`${dataDir}.lock`);
  }
  let db: PGlite;
  try {
    if (dataDir && !existsSync(join(dataDir, 'PG_VERSION'))) await initInChildProcess(dataDir);
    db = await PGlite.create({
      ...(dataDir ? { dataDir } : options.initialData && { loadDataDir: options.initialData }),
      parsers,
      // WASM memory never shrinks, so every buffer page once touched stays resident: keep the
      // embedded server's buffers small (PGlite's default shared_buffers is 128 MB).
      postgresqlconf: ['shared_buffers = 16MB', 'wal_buffers = 1MB', 'temp_buffers = 4MB', 'work_mem = 4MB'],
    });
  } catch (err) {
    unlock();
    throw err;
  }
  const run = (q: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<Row extends object>(sql: string, params?: readonly SqlParam[]): Promise<Row[]> {
      const result = await q.query<Row>(sql, params ? [...params] : undefined);
      return result.rows;
    },
    async execScript(sql: string): Promise<void> {
      await q.exec(sql);
    },
  });
  const base = run(db);
  return {
    kind: 'pglite',
    query: base.query,
    execScript: base.execScript,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn(run(tx)));
    },
    close: async () => {
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * Runs initdb for a new data directory in a child process (see pglite-init.ts). Only from the
 * compiled build: under a TypeScript test runner the directory is initialised in process.
 */
async function initInChildProcess(dataDir: string): Promise<void> {
  const script = fileURLToPath(new URL('./pglite-init.js', import.meta.url));
  if (!existsSync(script)) return;
  await promisify(execFile)(process.execPath, [...process.execArgv, script, dataDir], { timeout: 300_000 });
}
