import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresDatabase } from '../../src/metadata/postgres-database.js';
import { MIGRATIONS } from '../../src/metadata/migrate.js';
import { testDatabaseUrl } from '../helpers/postgres.js';
import { adminAuth, startWharf, type WharfHandle } from '../helpers/server.js';

// Instances that start together against one fresh database must not race on the schema: the
// migration lock makes one wait for the other. Only meaningful on a shared PostgreSQL (PGlite
// is one process by construction, guarded by its data-directory lock).
describe.runIf(process.env.WHARF_TEST_DATABASE === 'postgres')('migrations under a lock', () => {
  const handles: WharfHandle[] = [];
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.stop()));
  });

  it('three instances starting at once on an empty database all come up, each migration applied once', async () => {
    const databaseUrl = await testDatabaseUrl();
    const started = await Promise.all([1, 2, 3].map(() => startWharf({ databaseUrl })));
    handles.push(...started);
    for (const h of started) {
      const res = await fetch(`${h.url}/v2/`, { headers: { authorization: adminAuth(h) } });
      expect(res.status).toBe(200);
    }
    const db = await openPostgresDatabase({ connection: { connectionString: databaseUrl }, poolSize: 1 });
    try {
      const rows = await db.query<{ version: number; n: number }>(
        'SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version',
      );
      expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, n: 1 })));
      const admins = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM users WHERE username = 'admin'",
      );
      expect(admins[0]?.n).toBe(1);
    } finally {
      await db.close();
    }
  });
});
