import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/schema.js';

// Connections to the shared Redis (a plain server or a Sentinel-managed master set). Redis is an
// accelerator: every command fails fast while it is unreachable (no offline queue, one attempt,
// a command timeout), callers fall back to the database, and the client reconnects forever on
// its own, so an outage or a Sentinel failover never makes a request hang.

export type RedisRole = 'commands' | 'subscriber';

/** Bounds on how long a request may wait for Redis before it goes on without it. */
const CONNECT_TIMEOUT_MS = 2_000;
const COMMAND_TIMEOUT_MS = 1_000;

export function redisPassword(config: RedisConfig): string | undefined {
  if (config.password_file !== undefined) return readFileSync(config.password_file, 'utf8').trim();
  return config.password;
}

export function redisOptions(config: RedisConfig, role: RedisRole): RedisOptions {
  const password = redisPassword(config);
  const common: RedisOptions = {
    db: config.db,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Reconnect forever, backing off to one attempt every 2 s.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    // A subscriber must queue its SUBSCRIBE until connected; a command connection must not queue
    // anything: a request waiting on a dead Redis is exactly the hang this module exists to avoid.
    enableOfflineQueue: role === 'subscriber',
    maxRetriesPerRequest: role === 'subscriber' ? null : 0,
    ...(role === 'commands' && { commandTimeout: COMMAND_TIMEOUT_MS }),
    // Resubscription is done by the owner on every 'ready', after it has dropped what it cached.
    autoResubscribe: false,
    lazyConnect: true,
    ...(password !== undefined && { password }),
  };
  if (config.sentinel) {
    return {
      ...common,
      sentinels: config.sentinel.addresses.map(parseHostPort),
      name: config.sentinel.master_name,
      ...(config.sentinel.password !== undefined && { sentinelPassword: config.sentinel.password }),
      // No failoverDetector: with it, ioredis 6 ended the connection for good when the sentinels
      // switched masters (test/ha/sentinel-failover.test.ts). Without it, losing the old master
      // makes the client ask the sentinels again, which name the new one.
      sentinelRetryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    };
  }
  return common;
}

export function createRedis(config: RedisConfig, role: RedisRole): Redis {
  const options = redisOptions(config, role);
  return config.sentinel ? new Redis(options) : new Redis(config.url as string, options);
}

function parseHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(at + 1)) };
}
