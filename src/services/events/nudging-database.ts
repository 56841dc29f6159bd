import type { Database, Queryable, SqlParam } from '../../metadata/database.js';
import { takeRecordedEvents } from '../../metadata/outbox-table.js';

/**
 * The database as the services see it: after a transaction (or a lone statement) that recorded
 * outbox events commits, `nudge` is called, so this instance's dispatcher starts on them at once
 * whoever wrote them. Other instances' events are found by the dispatcher's poll.
 */
export function nudgeAfterEventCommits(db: Database, nudge: () => void): Database {
  const wrapper: Database = {
    kind: db.kind,
    async query<Row extends object>(sql: string, params?: readonly SqlParam[]): Promise<Row[]> {
      const rows = await db.query<Row>(sql, params);
      if (takeRecordedEvents(wrapper)) nudge();
      return rows;
    },
    execScript: (sql) => db.execScript(sql),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      let handle: Queryable | undefined;
      let result: T;
      try {
        result = await db.transaction((tx) => {
          handle = tx;
          return fn(tx);
        });
      } catch (err) {
        // Rolled back: its events are gone with it; only forget the handle.
        if (handle) takeRecordedEvents(handle);
        throw err;
      }
      if (handle && takeRecordedEvents(handle)) nudge();
      return result;
    },
    close: () => db.close(),
  };
  return wrapper;
}
