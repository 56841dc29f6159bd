import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError, type Database } from '../../src/metadata/database.js';
import { openPostgresDatabase } from '../../src/metadata/postgres-database.js';
import { testDatabaseUrl } from '../helpers/postgres.js';

// A transaction's connection dies between two of its statements (the server restarted or
// failed over): the transaction fails as "database unavailable" and the process lives on. pg's
// client reports the loss as an 'error' event that nothing listened to on a checked-out client,
// which crashed an instance in the PostgreSQL restart test. Real PostgreSQL only.

const onPostgres = process.env.WHARF_TEST_DATABASE === 'postgres';

describe.skipIf(!onPostgres)('a transaction whose connection is lost', () => {
  let db: Database;

  beforeAll(async () => {
    db = await openPostgresDatabase({
      connection: { connectionString: await testDatabaseUrl() },
      poolSize: 3,
    });
  });

  afterAll(async () => {
    await db?.close();
  });

  it('fails as unavailable, and the pool serves the next one', async () => {
    const outcome = db.transaction(async (tx) => {
      const [me] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // Ended from outside while this transaction waits between statements.
      await db.query('SELECT pg_terminate_backend($1)', [me?.pid ?? 0]);
      await new Promise<void>((resolve) => {
        const check = () =>
          void db
            .query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [
              me?.pid ?? 0,
            ])
            .then(([row]) => (row?.n === 0 ? resolve() : setTimeout(check, 20)));
        check();
      });
      await tx.query('SELECT 1');
    });
    await expect(outcome).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(await db.transaction((tx) => tx.query<{ ok: number }>('SELECT 1 AS ok'))).toEqual([{ ok: 1 }]);
  });
});
