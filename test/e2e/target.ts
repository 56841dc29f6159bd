import { existsSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import type { Creds } from '../helpers/clients.js';
import { startDockerRegistry } from '../helpers/docker-registry.js';
import { TempDirs } from './support.js';

// The one place that decides which registry the end-to-end tests drive: Wharf (test/helpers/server.ts)
// when it exists, unless WHARF_E2E_TARGET=docker-registry asks for Debian's docker-registry, the
// reference implementation, which shows what the tests expect of a correct registry.

export interface E2ETarget {
  kind: 'wharf' | 'docker-registry';
  /** host:port, as clients name the registry. */
  host: string;
  /** http://host:port */
  url: string;
  /** Credentials for pushes and pulls; docker-registry runs without authentication. */
  creds?: Creds;
  /** First path component of test repositories (Wharf keeps repositories in projects). */
  namespace: string;
  /** docker://host/namespace/name[:tag|@digest] */
  ref(name: string, tagOrDigest?: string): string;
  stop(): Promise<void>;
}

/** What test/helpers/server.ts promises (written by the server's authors). */
interface WharfHandle {
  url: string;
  host: string;
  adminUser: string;
  adminPassword: string;
  stop(): Promise<void>;
}

interface ServerHelper {
  startWharf(options?: {
    dataDir?: string;
    anonymousPull?: boolean;
    env?: Record<string, string>;
  }): Promise<WharfHandle>;
}

const SERVER_HELPER = new URL('../helpers/server.ts', import.meta.url);

export function targetKind(): E2ETarget['kind'] {
  if (process.env.WHARF_E2E_TARGET === 'docker-registry') return 'docker-registry';
  return existsSync(SERVER_HELPER) ? 'wharf' : 'docker-registry';
}

export async function startTarget(): Promise<E2ETarget> {
  // Harbor-style: repositories live in a project, and `library` exists from the start.
  const namespace = 'library';
  const kind = targetKind();
  const make = (
    host: string,
    url: string,
    creds: Creds | undefined,
    stop: () => Promise<void>,
  ): E2ETarget => ({
    kind,
    host,
    url,
    ...(creds ? { creds } : {}),
    namespace,
    ref(name, tagOrDigest) {
      const suffix =
        tagOrDigest === undefined ? '' : tagOrDigest.includes(':') ? `@${tagOrDigest}` : `:${tagOrDigest}`;
      return `docker://${host}/${namespace}/${name}${suffix}`;
    },
    stop,
  });
  if (kind === 'docker-registry') {
    const registry = await startDockerRegistry();
    return make(registry.host, registry.url, undefined, () => registry.stop());
  }
  // A specifier in a variable: TypeScript does not resolve it, so this compiles before server.ts exists.
  const specifier = '../helpers/server.js';
  const helper = (await import(specifier)) as ServerHelper;
  const wharf = await helper.startWharf();
  return make(wharf.host, wharf.url, { username: wharf.adminUser, password: wharf.adminPassword }, () =>
    wharf.stop(),
  );
}

export interface E2EContext {
  /** The running registry (only inside tests and hooks). */
  readonly target: E2ETarget;
  readonly dirs: TempDirs;
}

/** Starts the target before a test file's tests; stops it and removes the file's temp dirs after. */
export function useTarget(): E2EContext {
  let target: E2ETarget | undefined;
  const dirs = new TempDirs();
  beforeAll(async () => {
    target = await startTarget();
  });
  afterAll(async () => {
    await target?.stop();
    await dirs.removeAll();
  });
  return {
    get target() {
      if (!target) throw new Error('the e2e target is not running (used outside a test?)');
      return target;
    },
    dirs,
  };
}
