import { mkdirSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import { lockDataDir } from './data-dir-lock.js';
import type { Database, Queryable, SqlParam } from './database.js';

// int8 columns (sizes, ids) as JS numbers: every value we store stays below 2^53.
const parsers = { [types.INT8]: (value: string) => Number(value) };

export async function openPgliteDatabase(dataDir: string | undefined): Promise<Database> {
  let unlock = () => undefined as void;
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    unlock = lockDataDir(`${dataDir}.lock`);
  }
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir ? { dataDir, parsers } : { parsers });
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
