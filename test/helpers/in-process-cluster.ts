import { startInProcessWharf, type InProcessWharf } from './in-process-wharf.js';
import { DEFAULT_TEST_PROJECTS } from './server.js';

// Several independent Wharf instances built in the test process (each its own database and
// storage, see in-process-wharf.ts), for replication between Wharfs: each listens on its own
// loopback port, so one instance's replication reaches another over real HTTP, while the test
// needs no child process. An outage is `stop()` then `restart()` (same port, database, storage),
// or a TCP proxy between two of them (partition-proxy.ts).

type Settings = Record<string, unknown>;

/**
 * Starts `count` instances with the default test projects; `settings` (merged one level deep into
 * each configuration) apply to all. Each is named `${prefix}-${i}` (cluster.instance_name), so
 * logs tell them apart. If one fails to start, the others are closed and the error thrown.
 */
export async function startInProcessWharfs(
  count: number,
  settings: Settings = {},
  prefix = 'wharf',
): Promise<InProcessWharf[]> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      startInProcessWharf(
        { ...settings, cluster: { ...(settings.cluster as Settings), instance_name: `${prefix}-${i + 1}` } },
        { projects: DEFAULT_TEST_PROJECTS },
      ),
    ),
  );
  const handles = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await closeAll(handles);
    throw failed.reason;
  }
  return handles;
}

/** Closes every instance given (those still running are shut down), removing their data. */
export async function closeAll(handles: ReadonlyArray<InProcessWharf | undefined>): Promise<void> {
  await Promise.allSettled(handles.map((h) => h?.close()));
}

/** Replication retries capped at 5 s apart: outage and partition tests see a peer's return soon. */
export const FAST_RETRIES: Settings = { replication: { retry_backoff_max_seconds: 5 } };
