import { z } from 'zod';
import { outboundSchema, trustProxySchema } from './network-schema.js';

// The one configuration schema. Keys are snake_case like Harbor's; every key has a default so
// that an empty (or absent) file gives the embedded single-instance setup.

const MiB = 1024 * 1024;

const hostPort = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port (IPv6 in brackets)');

/** A secret given inline or, better, as a file every instance reads (kept out of the YAML). */
const secretFields = {
  password: z.string().min(1).optional(),
  password_file: z.string().min(1).optional(),
};
const oneSecretSource = (value: { password?: string | undefined; password_file?: string | undefined }) =>
  !(value.password !== undefined && value.password_file !== undefined);
const ONE_SECRET_SOURCE = { message: 'set password or password_file, not both', path: ['password_file'] };

const databaseSchema = z
  .object({
    /** postgres://… of an external PostgreSQL; absent (and no host): embedded PGlite under data_dir. */
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    /** Or the connection in parts (instead of url). */
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).default(5432),
    name: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    ...secretFields,
    /** As libpq's sslmode: disable, require (encrypt, trust any certificate), verify-ca, verify-full. */
    ssl_mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).default('disable'),
    /** PEM bundle that verify-ca and verify-full check the server's certificate against. */
    ssl_ca_file: z.string().min(1).optional(),
    pool_size: z.number().int().min(1).max(1000).default(10),
  })
  .strict()
  .refine((d) => !(d.url !== undefined && d.host !== undefined), {
    message: 'set url or host (with name, user, password), not both',
    path: ['host'],
  })
  .refine((d) => d.host === undefined || (d.name !== undefined && d.user !== undefined), {
    message: 'host needs name and user too',
    path: ['host'],
  })
  .refine(oneSecretSource, ONE_SECRET_SOURCE)
  .default({ port: 5432, ssl_mode: 'disable', pool_size: 10 });

const redisSchema = z
  .object({
    /** redis://[:password@]host:port[/db] or rediss:// for TLS. */
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    /** Or Redis Sentinel: the sentinels to ask and the name of the master set they watch. */
    sentinel: z
      .object({
        addresses: z.array(hostPort).min(1, 'name at least one sentinel'),
        master_name: z.string().min(1),
        /** The sentinels' own password (requirepass of sentinel.conf), if any. */
        password: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Password of the Redis servers (with sentinel, or instead of the one in the url). */
    ...secretFields,
    db: z.number().int().min(0).max(15).default(0),
    /** Every key and channel starts with this, so that several Wharf clusters may share one Redis. */
    key_prefix: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{0,64}$/)
      .default('wharf:'),
  })
  .strict()
  .refine((r) => (r.url === undefined) !== (r.sentinel === undefined), {
    message: 'set exactly one of url or sentinel',
  })
  .refine(oneSecretSource, ONE_SECRET_SOURCE);

const storageSchema = z
  .object({
    filesystem: z
      .object({ root: z.string().min(1).optional() })
      .strict()
      .optional(),
    s3: z
      .object({
        /** Absent: AWS itself. For an S3-compatible server: its URL (http://127.0.0.1:9000). */
        endpoint: z.string().url().optional(),
        region: z.string().min(1).default('us-east-1'),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
        /** Absent: the AWS SDK's default credential chain (environment, instance role ...). */
        access_key: z.string().min(1).optional(),
        secret_key: z.string().min(1).optional(),
        secret_key_file: z.string().min(1).optional(),
        /** Path-style URLs (endpoint/bucket/key), which most S3-compatible servers need. */
        path_style: z.boolean().default(false),
        /** Part size of multipart uploads, in bytes (S3's minimum is 5 MiB). */
        multipart_chunk_size: z
          .number()
          .int()
          .min(5 * MiB, 'must be at least 5 MiB (S3 minimum part size)')
          .max(5 * 1024 * MiB)
          .default(16 * MiB),
        /** A key prefix inside the bucket (several registries in one bucket). */
        root_directory: z
          .string()
          .regex(/^([A-Za-z0-9_-][A-Za-z0-9._-]*)(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/, 'must be a/b/c')
          .optional(),
      })
      .strict()
      .refine((s) => !(s.secret_key !== undefined && s.secret_key_file !== undefined), {
        message: 'set secret_key or secret_key_file, not both',
        path: ['secret_key_file'],
      })
      .refine(
        (s) =>
          (s.access_key === undefined) === (s.secret_key === undefined && s.secret_key_file === undefined),
        {
          message: 'access_key and a secret key go together',
          path: ['access_key'],
        },
      )
      .optional(),
  })
  .strict()
  .refine((s) => !(s.filesystem !== undefined && s.s3 !== undefined), {
    message: 'choose one storage: filesystem or s3',
  })
  .default({});

export const configSchema = z
  .object({
    data_dir: z.string().min(1).default('./data'),
    admin_password: z.string().min(8, 'must be at least 8 characters').optional(),
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(5000),
        /**
         * Seconds a kept-alive connection may stay idle between requests before it is closed (a
         * request in progress is not cut: a paused upload is the client's and the proxy's to time out).
         * Keep it above the load balancer's own idle timeout, so the balancer always closes first.
         */
        idle_timeout_seconds: z.number().int().positive().default(120),
        /** The URL clients reach Wharf at (behind a load balancer); token realms are built from it. */
        external_url: z.string().url().optional(),
        /** Whose X-Forwarded-For/-Proto to believe: false, the proxies' addresses/CIDRs, or a hop count. */
        trust_proxy: trustProxySchema,
      })
      .strict()
      .default({ host: '127.0.0.1', port: 5000, idle_timeout_seconds: 120, trust_proxy: false }),
    database: databaseSchema,
    /** Shared cache, invalidation messages and rate-limit counters; absent: per-process memory. */
    redis: redisSchema.optional(),
    storage: storageSchema,
    cluster: z
      .object({
        /** Named in every response's X-Wharf-Instance header and in logs; default host:port. */
        instance_name: z
          .string()
          .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits and . _ : - only (at most 100)')
          .optional(),
      })
      .strict()
      .default({}),
    auth: z
      .object({
        /**
         * Require sign-in everywhere: anonymous callers may not pull, get no token and read nothing
         * through the API. Off (the default, as Harbor): public projects are readable by anyone.
         */
        require_signin: z.boolean().default(false),
        /**
         * Deprecated; before require_signin it was the switch for anonymous pulls of public
         * projects (default false). `false` now means require_signin: true; `true` is the default.
         */
        anonymous_pull: z.boolean().optional(),
        realm: z.string().min(1).default('Wharf'),
        /** How /v2 asks for credentials: a bearer-token challenge (Basic is accepted too), or Basic. */
        challenge: z.enum(['bearer', 'basic']).default('bearer'),
        /**
         * scrypt's cost for new password and secret hashes, as log2(N): 17 is OWASP's N=2^17. Lower
         * only for test suites, which create many accounts; never in production.
         */
        password_kdf_cost: z.number().int().min(10).max(20).default(17),
        token: z
          .object({
            issuer: z.string().min(1).default('wharf-token-issuer'),
            service: z.string().min(1).default('wharf-registry'),
            expiration_seconds: z.number().int().min(60).max(86_400).default(1800),
            /** PKCS#8 PEM, EC P-256, shared by every instance. Default: generated in data_dir/secrets. */
            signing_key_file: z.string().min(1).optional(),
            /** More keys whose tokens verify (public or private PEM): for rotation. */
            verification_key_files: z.array(z.string().min(1)).default([]),
          })
          .strict()
          .default({
            issuer: 'wharf-token-issuer',
            service: 'wharf-registry',
            expiration_seconds: 1800,
            verification_key_files: [],
          }),
      })
      .strict()
      .refine((a) => !(a.require_signin && a.anonymous_pull === true), {
        message: 'true contradicts auth.require_signin: true; drop this deprecated key',
        path: ['anonymous_pull'],
      })
      .default({
        require_signin: false,
        realm: 'Wharf',
        challenge: 'bearer',
        password_kdf_cost: 17,
        token: {
          issuer: 'wharf-token-issuer',
          service: 'wharf-registry',
          expiration_seconds: 1800,
          verification_key_files: [],
        },
      }),
    limits: z
      .object({
        manifest_max_bytes: z
          .number()
          .int()
          .min(4 * MiB, 'must accept at least 4 MiB (the OCI spec minimum)')
          .default(4 * MiB),
        /** Requests per minute from one client address; 0 = unlimited. Excess gets 429 TOOMANYREQUESTS. */
        requests_per_minute: z.number().int().min(0).default(0),
        /** Largest blob (layer, config) accepted, in bytes; 0 = unlimited. Larger: 413 SIZE_INVALID. */
        max_blob_size_bytes: z.number().int().min(0).default(0),
        /** Upload sessions one user or robot may hold open at once; 0 = unlimited. More: 403 DENIED. */
        max_upload_sessions_per_principal: z.number().int().min(0).default(100),
      })
      .strict()
      .default({
        manifest_max_bytes: 4 * MiB,
        requests_per_minute: 0,
        max_blob_size_bytes: 0,
        max_upload_sessions_per_principal: 100,
      }),
    uploads: z
      .object({
        /** Upload sessions untouched for this long are purged. */
        expire_after_hours: z.number().positive().default(24),
        /** Advertised as OCI-Chunk-Min-Length. */
        chunk_min_length: z.number().int().min(0).default(0),
      })
      .strict()
      .default({ expire_after_hours: 24, chunk_min_length: 0 }),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** One access-log line per request. */
        requests: z.boolean().default(true),
      })
      .strict()
      .default({ level: 'info', requests: true }),
    audit: z
      .object({
        /** Record pulls (the high-volume event) in the audit log. */
        log_pulls: z.boolean().default(true),
        /**
         * Entries older than this many days are purged by the audit purge job's default schedule
         * (hourly); 0: no default schedule. A schedule set through /system/purgeaudit wins.
         */
        retention_days: z.number().int().min(0).default(0),
        /**
         * A syslog receiver (`host:port`, TCP, RFC 5424) every entry is also sent to, through the
         * outbound policy; empty: none (Harbor's audit_log_forward_endpoint).
         */
        forward_endpoint: z
          .string()
          .regex(/^$|^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):\d{1,5}$/, 'host:port')
          .default(''),
        /** With a forward endpoint: forward only, keep no entries in the database (skip_audit_log_database). */
        skip_database: z.boolean().default(false),
      })
      .strict()
      .refine((a) => !a.skip_database || a.forward_endpoint !== '', {
        message: 'skip_database needs a forward_endpoint: the entries would go nowhere',
      })
      .default({ log_pulls: true, retention_days: 0, forward_endpoint: '', skip_database: false }),
    login: z
      .object({
        /** Failed logins are counted over this window, per (login name, client address) and per address. */
        failure_window_seconds: z.number().int().min(60).max(86_400).default(900),
        /** Failures of one name from one address in the window before that pair is locked. */
        max_failures_per_account: z.number().int().min(3).max(1000).default(10),
        /**
         * Failures from one address (any names) in the window before the address is locked for
         * names that have not signed in from it in the last 30 days (password spraying).
         */
        max_failures_per_address: z.number().int().min(10).max(100_000).default(50),
        /** How long a lock lasts (429 with Retry-After); an administrator can lift it earlier. */
        lock_seconds: z.number().int().min(1).max(86_400).default(300),
        /** A portal/API session unused this long ends. */
        session_idle_seconds: z
          .number()
          .int()
          .min(1)
          .max(7 * 86_400)
          .default(1800),
        /** A session ends this long after its sign-in, however active it is. */
        session_max_seconds: z
          .number()
          .int()
          .min(1)
          .max(30 * 86_400)
          .default(43_200),
      })
      .strict()
      .default({
        failure_window_seconds: 900,
        max_failures_per_account: 10,
        max_failures_per_address: 50,
        lock_seconds: 300,
        session_idle_seconds: 1800,
        session_max_seconds: 43_200,
      }),
    jobservice: z
      .object({
        /** Jobs one instance runs at once, per job type (Harbor's max_job_workers). */
        max_job_workers: z.number().int().min(1).max(100).default(10),
      })
      .strict()
      .default({ max_job_workers: 10 }),
    /** The event outbox's dispatcher (src/services/events/dispatcher.ts). */
    events: z
      .object({
        /** Whether this instance hands outbox events to their consumers (any one instance suffices). */
        dispatch: z.boolean().default(true),
        /** Dispatched events are kept this long (for inspection and redelivery), then purged. */
        retention_hours: z
          .number()
          .positive()
          .max(24 * 365)
          .default(24),
        /** Tries of one event by a failing consumer before it is given up (logged, counted, kept). */
        max_attempts: z.number().int().min(1).max(1000).default(10),
        /** First wait before a failed consumer is tried again; doubled each try, capped at 5 minutes. */
        retry_backoff_seconds: z.number().positive().max(300).default(1),
      })
      .strict()
      .default({ dispatch: true, retention_hours: 24, max_attempts: 10, retry_backoff_seconds: 1 }),
    replication: z
      .object({
        /** A task whose peer stays unreachable is retried this long before it fails (then reconciled). */
        retry_deadline_hours: z
          .number()
          .positive()
          .max(24 * 30)
          .default(24),
        /** How long a deleted tag's tombstone keeps two-way replication from bringing it back. */
        tombstone_days: z.number().positive().max(3650).default(7),
        /** First wait before a failed task (peer unreachable) is tried again; doubled each retry. */
        retry_backoff_seconds: z.number().positive().max(3_600).default(2),
        /** The longest wait between two tries: how soon after a peer returns its work resumes. */
        retry_backoff_max_seconds: z.number().positive().max(86_400).default(60),
      })
      .strict()
      .refine((r) => r.retry_backoff_max_seconds >= r.retry_backoff_seconds, {
        path: ['retry_backoff_max_seconds'],
        message: 'must be at least retry_backoff_seconds',
      })
      .default({
        retry_deadline_hours: 24,
        tombstone_days: 7,
        retry_backoff_seconds: 2,
        retry_backoff_max_seconds: 60,
      }),
    /** Webhook deliveries (docs/webhooks.md): retries of a target that fails, and its timeout. */
    webhooks: z
      .object({
        /** First wait before a failed delivery is tried again; doubled each retry. */
        retry_backoff_seconds: z.number().positive().max(3_600).default(2),
        /** The longest wait between two tries: how soon after a receiver returns deliveries resume. */
        retry_backoff_max_seconds: z.number().positive().max(86_400).default(300),
        /** A delivery still failing this long after its event fails for good; the next one proceeds. */
        retry_deadline_hours: z
          .number()
          .positive()
          .max(24 * 30)
          .default(24),
        /** Bound of one delivery attempt (connecting, then waiting for the answer). */
        timeout_seconds: z.number().positive().max(600).default(10),
        /** Ended executions kept per policy (with their tasks and logs); older ones are deleted. */
        keep_executions: z.number().int().min(1).max(100_000).default(50),
      })
      .strict()
      .refine((w) => w.retry_backoff_max_seconds >= w.retry_backoff_seconds, {
        path: ['retry_backoff_max_seconds'],
        message: 'must be at least retry_backoff_seconds',
      })
      .default({
        retry_backoff_seconds: 2,
        retry_backoff_max_seconds: 300,
        retry_deadline_hours: 24,
        timeout_seconds: 10,
        keep_executions: 50,
      }),
    /** Online garbage collection (src/services/gc, docs/lifecycle.md). */
    gc: z
      .object({
        /**
         * Blobs, links, manifests and uploads younger than this are never collected: the time a
         * client gets between uploading a layer and pushing the manifest that names it. 0 is allowed
         * (tests): the blob protocol, not this window, keeps concurrent pushes safe.
         */
        grace_period_minutes: z
          .number()
          .int()
          .min(0)
          .max(60 * 24 * 365)
          .default(120),
      })
      .strict()
      .default({ grace_period_minutes: 120 }),
    secrets: z
      .object({
        /**
         * 32 random bytes (raw or base64) that encrypt stored credentials of remote registries;
         * every instance reads the same file. Default: generated once in data_dir/secrets.
         */
        encryption_key_file: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    shutdown: z
      .object({
        /**
         * SIGTERM: seconds the instance keeps serving while reporting not ready, so that the load
         * balancer's health checks take it out before it stops accepting connections.
         */
        drain_seconds: z.number().min(0).max(600).default(5),
        /** Then: seconds in-flight requests get to finish before their connections are closed. */
        grace_seconds: z.number().positive().default(30),
      })
      .strict()
      .default({ drain_seconds: 5, grace_seconds: 30 }),
    /** Where Wharf may connect to (registry endpoints, token realms): see src/net/outbound-guard.ts. */
    outbound: outboundSchema,
  })
  .strict();

export type WharfConfig = z.infer<typeof configSchema>;

/** Whether every request must be signed in: auth.require_signin, or the older anonymous_pull: false. */
export function signInRequired(auth: WharfConfig['auth']): boolean {
  return auth.require_signin || auth.anonymous_pull === false;
}
export type DatabaseConfig = WharfConfig['database'];
export type RedisConfig = NonNullable<WharfConfig['redis']>;
export type S3Config = NonNullable<WharfConfig['storage']['s3']>;
