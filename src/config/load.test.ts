import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load.js';

describe('cluster configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function load(yaml: string) {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.yml`);
    await writeFile(file, yaml);
    return loadConfig({ file, env: {} });
  }
  async function failure(yaml: string): Promise<string> {
    try {
      await load(yaml);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('the configuration was accepted');
  }

  it('takes a full cluster setup: database in parts, Sentinel, S3, instance name', async () => {
    const config = await load(`
database: { host: db.internal, name: wharf, user: wharf, password_file: /run/secrets/db, ssl_mode: verify-full }
redis:
  sentinel: { addresses: ["10.0.0.1:26379", "[::1]:26379"], master_name: wharf }
  password_file: /run/secrets/redis
storage:
  s3: { endpoint: "http://127.0.0.1:9000", bucket: wharf-blobs, access_key: k, secret_key_file: /run/secrets/s3, path_style: true }
cluster: { instance_name: wharf-a }
`);
    expect(config.database).toMatchObject({
      host: 'db.internal',
      port: 5432,
      ssl_mode: 'verify-full',
      pool_size: 10,
    });
    expect(config.redis).toMatchObject({ db: 0, key_prefix: 'wharf:', sentinel: { master_name: 'wharf' } });
    expect(config.storage.s3).toMatchObject({ region: 'us-east-1', multipart_chunk_size: 16 * 1024 * 1024 });
    expect(config.storage.filesystem).toBeUndefined();
    expect(config.shutdown).toEqual({ drain_seconds: 5, grace_seconds: 30 });
    expect(config.replication).toEqual({
      retry_deadline_hours: 24,
      tombstone_days: 7,
      retry_backoff_seconds: 2,
      retry_backoff_max_seconds: 60,
    });
  });

  it('defaults to the embedded setup: no redis, filesystem storage chosen by absence', async () => {
    const config = await load('');
    expect(config.redis).toBeUndefined();
    expect(config.storage.s3).toBeUndefined();
    expect(config.database.url).toBeUndefined();
    expect(config.database.host).toBeUndefined();
  });

  it.each([
    [
      'redis: { url: "redis://a:6379", sentinel: { addresses: ["a:1"], master_name: m } }',
      /redis: set exactly one of url or sentinel/,
    ],
    ['redis: { db: 1 }', /redis: set exactly one of url or sentinel/],
    ['redis: { url: "http://a" }', /redis\.url: must be a redis:\/\/ or rediss:\/\/ URL/],
    [
      'redis: { sentinel: { addresses: ["no-port"], master_name: m } }',
      /redis\.sentinel\.addresses\.0: must be host:port/,
    ],
    ['database: { url: "postgres://a/b", host: a }', /database\.host: set url or host/],
    ['database: { host: a }', /database\.host: host needs name and user too/],
    [
      'database: { host: a, name: b, user: c, password: x, password_file: /f }',
      /database\.password_file: set password or password_file, not both/,
    ],
    ['database: { ssl_mode: sometimes }', /database\.ssl_mode/],
    ['storage: { filesystem: {}, s3: { bucket: abc } }', /storage: choose one storage/],
    ['storage: { s3: { bucket: "Not_A_Bucket" } }', /storage\.s3\.bucket: must be a valid S3 bucket name/],
    [
      'storage: { s3: { bucket: abc, multipart_chunk_size: 1024 } }',
      /storage\.s3\.multipart_chunk_size: must be at least 5 MiB/,
    ],
    [
      'storage: { s3: { bucket: abc, access_key: k } }',
      /storage\.s3\.access_key: access_key and a secret key go together/,
    ],
    ['cluster: { instance_name: "a b" }', /cluster\.instance_name: letters, digits/],
    ['shutdown: { drain_seconds: -1 }', /shutdown\.drain_seconds/],
    ['replication: { retry_deadline_hours: 0 }', /replication\.retry_deadline_hours/],
    ['replication: { retry_backoff_seconds: 0 }', /replication\.retry_backoff_seconds/],
    [
      'replication: { retry_backoff_seconds: 30, retry_backoff_max_seconds: 10 }',
      /replication\.retry_backoff_max_seconds: must be at least retry_backoff_seconds/,
    ],
  ])('refuses %s, naming the key', async (yaml, message) => {
    expect(await failure(yaml)).toMatch(message);
  });
});
