import { parse } from 'yaml';
import type { InProcessOptions, InProcessWharf } from './in-process-wharf.js';
import { DEFAULT_TEST_PROJECTS, startWharf, type StartOptions, type WharfHandle } from './server.js';
import { testDatabaseUrl } from './postgres.js';

/**
 * Starts Wharf on the database the current vitest project asks for: WHARF_TEST_DATABASE=postgres
 * gives a fresh database on the harness's real PostgreSQL, anything else the embedded PGlite.
 */
export async function startTestWharf(options: StartOptions = {}): Promise<WharfHandle> {
  const databaseUrl = process.env.WHARF_TEST_DATABASE === 'postgres' ? await testDatabaseUrl() : undefined;
  return startWharf({ ...options, ...(databaseUrl && !options.databaseUrl && { databaseUrl }) });
}

/** The options of startTestWharf that an app built in the test process honours, and its backends. */
export type InProcessStartOptions = Pick<
  StartOptions,
  'anonymousPull' | 'authConfig' | 'extraConfig' | 'projects' | 'publicProjects' | 'databaseUrl'
> &
  Pick<InProcessOptions, 'storage'>;

/**
 * startTestWharf's in-process counterpart (see in-process-wharf.ts): the same options and default
 * projects, for tests that need no process of their own. Call it with `handle.fetch`.
 */
export async function startInProcessTestWharf(options: InProcessStartOptions = {}): Promise<InProcessWharf> {
  // Loaded here, not at the top: files that only spawn the built CLI need not load the sources.
  const { startInProcessWharf } = await import('./in-process-wharf.js');
  const extra = (options.extraConfig ? parse(options.extraConfig) : {}) as Record<string, unknown> | null;
  return startInProcessWharf(
    {
      ...extra,
      auth: {
        ...(options.anonymousPull !== undefined && { anonymous_pull: options.anonymousPull }),
        ...options.authConfig,
      },
    },
    {
      projects: options.projects ?? DEFAULT_TEST_PROJECTS,
      publicProjects: options.publicProjects,
      databaseUrl: options.databaseUrl,
      storage: options.storage,
    },
  );
}
