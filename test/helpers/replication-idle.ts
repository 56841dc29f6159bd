import { apiCaller } from './api-client.js';
import { fetchMetrics, metricValue } from './cluster.js';
import { waitFor } from './poll.js';
import { adminAuth, type WharfHandle } from './server.js';

// Replication work an instance still has, stage by stage, so that a test can wait for "nothing
// more will happen" instead of sleeping: a content change is an outbox event until dispatched;
// dispatching it writes a replication-event job in the same transaction; that job starts an
// execution whose planning job writes the task jobs; a task's write to a peer is an event there.
// Each hand-over is one transaction, so work in flight is always visible in one of the stages.

type Instance = Pick<WharfHandle, 'url' | 'adminUser' | 'adminPassword'>;

/** Replication job types, as the job service names them (src/replication/execution). */
const REPLICATION_JOB = /^replication-/;

export interface ReplicationBacklog {
  /** Outbox events not yet handed to the consumers. */
  undispatched: number;
  /** Replication jobs waiting to run (a retry's backoff included), by type. */
  pending: Record<string, number>;
  /** Replication jobs running now, by type. */
  running: Record<string, number>;
}

/** What replication work an instance holds now (its metrics and its job service monitor). */
export async function replicationBacklog(instance: Instance): Promise<ReplicationBacklog> {
  const call = apiCaller(() => instance.url);
  const auth = adminAuth(instance);
  const json = async <T>(path: string): Promise<T> => {
    const res = await call('GET', path, auth);
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const metrics = await fetchMetrics(instance.url);
  // Absent, it would read as 0: an instance that does not report it cannot be waited on.
  if (!/^wharf_events_undispatched /m.test(metrics)) throw new Error(`${instance.url}: no outbox gauge`);
  const undispatched = metricValue(metrics, 'wharf_events_undispatched');
  const pending: Record<string, number> = {};
  for (const q of await json<Array<{ job_type: string; count: number }>>('/jobservice/queues')) {
    if (REPLICATION_JOB.test(q.job_type) && q.count > 0) pending[q.job_type] = q.count;
  }
  const running: Record<string, number> = {};
  for (const w of await json<Array<{ job_name: string }>>('/jobservice/pools/all/workers')) {
    if (REPLICATION_JOB.test(w.job_name)) running[w.job_name] = (running[w.job_name] ?? 0) + 1;
  }
  return { undispatched, pending, running };
}

const isEmpty = (b: ReplicationBacklog, types?: readonly string[]) => {
  const counted = (by: Record<string, number>) =>
    Object.entries(by).filter(([type]) => !types || types.includes(type)).length;
  return b.undispatched === 0 && counted(b.pending) === 0 && counted(b.running) === 0;
};

/**
 * Waits until no instance has replication work left: outboxes empty, no replication job waiting
 * or running. Seen twice in a row, since work handed from one instance to the next between two
 * reads could be missed once. `types`: only jobs of these types count.
 */
export async function replicationIdle(
  instances: readonly Instance[],
  timeoutMs = 60_000,
  types?: readonly string[],
): Promise<void> {
  let last: ReplicationBacklog[] = [];
  let idleBefore = false;
  await waitFor(
    () => `replication to go idle (last: ${JSON.stringify(last)})`,
    async () => {
      last = [];
      for (const instance of instances) last.push(await replicationBacklog(instance));
      const idle = last.every((b) => isEmpty(b, types));
      const twice = idle && idleBefore;
      idleBefore = idle;
      return twice;
    },
    timeoutMs,
    200,
  );
}
