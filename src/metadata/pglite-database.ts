import { mkdirSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import type { Database, Queryable, SqlParam } from './database.js';

// int8 columns (sizes, ids) as JS numbers: every value we store stays below 2^53.
const parsers = { [types.INT8]: (value: string) => Number(value) };

export async function openPgliteDatabase(dataDir: string | undefined): Promise<Database> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir ? { dataDir, parsers } : { parsers });
  const run = (q: Pick<PGlite, 'query'>) => ({
    async query<Row extends object>(sql: string, params?: readonly SqlParam[]): Promise<Row[]> {
      const result = await q.query<Row>(sql, params ? [...params] : undefined);
      return result.rows;
    },
  });
  const base = run(db);
  return {
    kind: 'pglite',
    query: base.query,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn(run(tx)));
    },
    close: () => db.close(),
  };
}
