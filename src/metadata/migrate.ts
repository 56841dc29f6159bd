import type { Database } from './database.js';
import { migration001 } from './migrations/001-registry.js';
import { migration002 } from './migrations/002-access.js';
import { migration003 } from './migrations/003-pull-stats.js';
import { migration004 } from './migrations/004-jobs.js';
import { migration005 } from './migrations/005-registries.js';
import { migration006 } from './migrations/006-replication-policies.js';
import { migration007 } from './migrations/007-replication-executions.js';
import { migration008 } from './migrations/008-replication-tombstones.js';
import { migration009 } from './migrations/009-labels.js';
import { migration010 } from './migrations/010-login-throttle.js';
import { migration012 } from './migrations/012-upload-owners.js';
import { migration013 } from './migrations/013-replication-skipped-deletions.js';
import { migration014 } from './migrations/014-outbox.js';
import { migration015 } from './migrations/015-event-dispatch.js';
import { migration016 } from './migrations/016-webhooks.js';
import { migration017 } from './migrations/017-audit-ext.js';
import { migration018 } from './migrations/018-gc-blob-guard.js';
import { migration021 } from './migrations/021-immutable-tag-rules.js';
import { migration022 } from './migrations/022-retention.js';
import { migration023 } from './migrations/023-maintenance-runs.js';
import { migration019 } from './migrations/019-gc-lease.js';
import { migration020 } from './migrations/020-quotas.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Forward-only, in order. Append new migrations; never edit an applied one. */
export const MIGRATIONS: readonly Migration[] = [
  migration001,
  migration002,
  migration003,
  migration004,
  migration005,
  migration006,
  migration007,
  migration008,
  migration009,
  migration010,
  migration012,
  migration013,
  migration014,
  migration015,
  migration016,
  migration017,
  migration018,
  migration019,
  migration020,
  migration021,
  migration022,
  migration023,
];

// Any fixed 64-bit key: every instance uses the same one, so starting several at once serialises.
const MIGRATION_LOCK_KEY = 7_320_481_734;

/**
 * Applies pending migrations in one transaction that holds a cluster-wide advisory lock:
 * instances starting together wait for each other instead of racing, and a failure leaves
 * the schema untouched. Returns the versions applied by this call.
 */
export async function migrate(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version     integer PRIMARY KEY,
      name        text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now()
    )`);
    const rows = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await tx.execScript(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      done.push(m.version);
    }
    return done;
  });
}
