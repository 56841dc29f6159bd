import { z } from 'zod';

// The one configuration schema. Keys are snake_case like Harbor's; every key has a default so
// that an empty (or absent) file gives the embedded single-instance setup.

const MiB = 1024 * 1024;

export const configSchema = z
  .object({
    data_dir: z.string().min(1).default('./data'),
    admin_password: z.string().min(8, 'must be at least 8 characters').optional(),
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(5000),
        /** Seconds a request may stay idle before the socket is dropped. */
        idle_timeout_seconds: z.number().int().positive().default(120),
        /** The URL clients reach Wharf at (behind a load balancer); token realms are built from it. */
        external_url: z.string().url().optional(),
        /** Trust X-Forwarded-* from the load balancer in front (client address, protocol). */
        trust_proxy: z.boolean().default(false),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 5000, idle_timeout_seconds: 120, trust_proxy: false }),
    database: z
      .object({
        /** postgres://… of an external PostgreSQL; absent: embedded PGlite under data_dir. */
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
          .optional(),
        pool_size: z.number().int().min(1).max(1000).default(10),
      })
      .strict()
      .default({ pool_size: 10 }),
    storage: z
      .object({
        filesystem: z
          .object({ root: z.string().min(1).optional() })
          .strict()
          .default({}),
      })
      .strict()
      .default({ filesystem: {} }),
    auth: z
      .object({
        /** Registry-wide: anonymous clients may pull from public projects. */
        anonymous_pull: z.boolean().default(false),
        realm: z.string().min(1).default('Wharf'),
        /** How /v2 asks for credentials: a bearer-token challenge (Basic is accepted too), or Basic. */
        challenge: z.enum(['bearer', 'basic']).default('bearer'),
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
      .default({
        anonymous_pull: false,
        realm: 'Wharf',
        challenge: 'bearer',
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
      })
      .strict()
      .default({ manifest_max_bytes: 4 * MiB, requests_per_minute: 0 }),
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
        /** Entries older than this many days are purged; 0 keeps them forever. */
        retention_days: z.number().int().min(0).default(0),
      })
      .strict()
      .default({ log_pulls: true, retention_days: 0 }),
    shutdown: z
      .object({ grace_seconds: z.number().positive().default(30) })
      .strict()
      .default({ grace_seconds: 30 }),
  })
  .strict();

export type WharfConfig = z.infer<typeof configSchema>;
