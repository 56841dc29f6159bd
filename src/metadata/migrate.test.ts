import { describe, expect, it } from 'vitest';
import { migrate } from './migrate.js';
import { openBareMemoryDatabase } from '../../test/helpers/memory-database.js';

describe('migrations on PGlite', () => {
  it('apply once, then are a no-op', async () => {
    // As initdb leaves it (loaded from a snapshot of one): every migration still to apply.
    const db = await openBareMemoryDatabase();
    try {
      const first = await migrate(db);
      expect(first).toContain(1);
      expect(await migrate(db)).toEqual([]);
      const rows = await db.query<{ version: number }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => r.version)).toEqual(first);
    } finally {
      await db.close();
    }
  });
});
