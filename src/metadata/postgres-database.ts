import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Database, Queryable, SqlParam } from './database.js';
import { DatabaseUnavailableError } from './database.js';

// int8 columns (sizes, ids) as JS numbers: every value we store stays below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

export interface PostgresOptions {
  /** A postgres:// URL, or the connection in parts (host, database, user, password, ssl). */
  connection: ConnectionSettings;
  poolSize: number;
}

export type ConnectionSettings = Pick<
  pg.PoolConfig,
  'connectionString' | 'host' | 'port' | 'database' | 'user' | 'password' | 'ssl'
>;

export interface ConnectionConfig {
  url?: string | undefined;
  host?: string | undefined;
  port: number;
  name?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
  password_file?: string | undefined;
  ssl_mode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  ssl_ca_file?: string | undefined;
}

/** The `database` configuration as node-postgres settings; secrets are read from their files. */
export function connectionSettings(config: ConnectionConfig): ConnectionSettings {
  const password =
    config.password_file !== undefined ? readFileSync(config.password_file, 'utf8').trim() : config.password;
  const ca = config.ssl_ca_file !== undefined ? readFileSync(config.ssl_ca_file, 'utf8') : undefined;
  // As libpq: require encrypts without checking the certificate, verify-ca checks it against the
  // CA but not the host name, verify-full checks both.
  const ssl: pg.PoolConfig['ssl'] =
    config.ssl_mode === 'disable'
      ? undefined
      : config.ssl_mode === 'require'
        ? { rejectUnauthorized: false }
        : {
            rejectUnauthorized: true,
            ...(ca !== undefined && { ca }),
            ...(config.ssl_mode === 'verify-ca' && { checkServerIdentity: () => undefined }),
          };
  const base: ConnectionSettings = config.url
    ? { connectionString: config.url }
    : {
        host: config.host,
        port: config.port,
        database: config.name,
        user: config.user,
      };
  return {
    ...base,
    ...(password !== undefined && { password }),
    ...(ssl !== undefined && { ssl }),
  };
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

/** Connection failures and server shutdown (57P01..57P03, 08xxx) mean "unavailable", not "bug". */
function toUnavailable(err: unknown): unknown {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (
    (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || /^(08|57P0)/.test(code))) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)
  ) {
    return new DatabaseUnavailableError(`database unavailable: ${message}`, { cause: err });
  }
  return err;
}

export async function openPostgresDatabase(options: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    ...options.connection,
    max: options.poolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const wrap = (client: Pick<pg.Pool, 'query'>): Queryable => ({
    async query<Row extends object>(sql: string, params?: readonly SqlParam[]): Promise<Row[]> {
      try {
        const result = await client.query(sql, params ? [...params] : undefined);
        return result.rows as Row[];
      } catch (err) {
        throw toUnavailable(err);
      }
    },
    async execScript(sql: string): Promise<void> {
      try {
        // Without parameters node-postgres uses the simple protocol, which runs several statements.
        await client.query(sql);
      } catch (err) {
        throw toUnavailable(err);
      }
    },
  });
  const base = wrap(pool);
  // Fail fast with a clear message when the server is not there at start-up.
  await base.query('SELECT 1');
  return {
    kind: 'postgres',
    query: base.query,
    execScript: base.execScript,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw toUnavailable(err);
      }
      // A checked-out client whose connection dies (the server restarted) emits 'error' even
      // between queries, and the pool listens only to idle ones: without a listener of its own
      // the process would crash. The next query fails as unavailable; the client is discarded.
      let lost: Error | undefined;
      const onLost = (err: Error) => {
        lost = err;
      };
      client.on('error', onLost);
      const tx = wrap(client);
      try {
        await tx.query('BEGIN');
        const result = await fn(tx);
        await tx.query('COMMIT');
        return result;
      } catch (err) {
        if (!lost) await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.removeListener('error', onLost);
        client.release(lost);
      }
    },
    close: () => pool.end(),
  };
}
