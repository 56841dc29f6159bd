import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { configSchema } from '../../src/config/schema.js';
import { createLogger, startServer } from '../../src/wharf.js';
import { basicAuth } from './api-client.js';
import { testDatabaseUrl } from './postgres.js';

// Wharf built inside the test process from the sources (no build needed), on the database the
// vitest project asks for, driven with Fastify's `inject`: the same routes and services as
// `wharf serve`, for tests of who may do what through the management API.

const ADMIN_PASSWORD = 'Harbor12345-rbac';

export interface RbacReply {
  status: number;
  /** The parsed JSON body (the text when it is not JSON), or undefined for an empty one. */
  body: unknown;
}

export interface RbacTestWharf {
  app: FastifyInstance;
  /** Authorization header value of the admin account. */
  adminAuth: string;
  /** Sends one request (JSON body when given) and parses the JSON answer. */
  call(method: string, url: string, authorization: string | undefined, body?: unknown): Promise<RbacReply>;
  close(): Promise<void>;
}

/** Starts Wharf in this process and creates the given (private) projects as the admin. */
export async function startRbacTestWharf(projects: string[]): Promise<RbacTestWharf> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-rbac-'));
  const databaseUrl = process.env.WHARF_TEST_DATABASE === 'postgres' ? await testDatabaseUrl() : undefined;
  const config = configSchema.parse({
    data_dir: join(root, 'data'),
    admin_password: ADMIN_PASSWORD,
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'error' },
    shutdown: { drain_seconds: 0 },
    ...(databaseUrl && { database: { url: databaseUrl } }),
  });
  const server = await startServer(config, createLogger(config));
  const call: RbacTestWharf['call'] = async (method, url, authorization, body) => {
    const res = await server.app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(authorization && { authorization }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
    return { status: res.statusCode, body: parseBody(res.body) };
  };
  const adminAuth = basicAuth('admin', ADMIN_PASSWORD);
  for (const name of projects) {
    const res = await call('POST', '/api/v2.0/projects', adminAuth, {
      project_name: name,
      metadata: { public: 'false' },
    });
    if (res.status !== 201)
      throw new Error(`creating project ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return {
    app: server.app,
    adminAuth,
    call,
    async close() {
      await server.shutdown({ drain: false });
      await rm(root, { recursive: true, force: true });
    },
  };
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
