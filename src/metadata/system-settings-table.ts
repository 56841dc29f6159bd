import type { Queryable } from './database.js';

// Settings administrators change at run time (Harbor's /configurations): one JSON value per name.

export async function listSystemSettings(db: Queryable): Promise<Array<{ name: string; value: unknown }>> {
  return db.query<{ name: string; value: unknown }>('SELECT name, value FROM system_settings');
}

export async function saveSystemSetting(db: Queryable, name: string, value: unknown): Promise<void> {
  await db.query(
    `INSERT INTO system_settings (name, value) VALUES ($1, $2::jsonb)
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
    [name, JSON.stringify(value)],
  );
}
