import type { JobContext } from '../../jobs/queue.js';
import type { Queryable } from '../../metadata/database.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import { compileFilters } from '../plan/index.js';
import type { Reconciler } from './reconciler.js';
import { EVENT_JOB, type EventPayload, type ExecutionDeps } from './types.js';

// Event-based triggers. A content change by a client becomes one durable job (a row written by
// the outbox consumer, event-consumer.ts, in the dispatcher's transaction), which starts one
// execution per matching policy, scoped to the repository: a reconciliation of that repository, so a late or repeated event
// still copies only what differs. Writes made by replication itself (this registry's system
// token) are no client's events and start nothing: no loops.

/** The event-based push policies an event concerns. */
export function policiesFor(
  policies: readonly ReplicationPolicy[],
  event: EventPayload,
): ReplicationPolicy[] {
  return policies.filter((p) => {
    if (!p.enabled || p.trigger.type !== 'event_based' || p.destRegistryId === null) return false;
    if (event.operation === 'delete' && !p.replicateDeletion) return false;
    const filters = compileFilters(p.filters);
    return filters.repository(event.repository) && (event.tag === null || filters.tag(event.tag));
  });
}

/** What writing an event's job needs: the policies, and the job queue. */
export interface EventTriggerDeps {
  policies: { all(db?: Queryable): Promise<ReplicationPolicy[]> };
  jobs: { enqueue(type: string, payload: unknown, options: { db?: Queryable }): Promise<unknown> };
}

/** The durable job of one event, when a policy wants it; `db`: the transaction to write it in. */
export async function enqueueEvent(
  deps: EventTriggerDeps,
  event: EventPayload,
  db?: Queryable,
): Promise<void> {
  // Checked here too so that registries without event-based policies write no job per push.
  if (policiesFor(await deps.policies.all(db), event).length === 0) return;
  await deps.jobs.enqueue(EVENT_JOB, event, db ? { db } : {});
}

export async function runEventJob(
  deps: ExecutionDeps,
  reconciler: Reconciler,
  job: JobContext,
): Promise<void> {
  const event = job.payload as EventPayload;
  for (const policy of policiesFor(await deps.policies.all(), event)) {
    // The origin job id makes a rerun of this job find the executions it made.
    const id = await reconciler.start(policy.id, 'event_based', {
      scopeRepository: event.repository,
      originJobId: job.id,
      statusText: `${event.operation === 'create' ? 'push' : 'delete'} ${event.repository}${event.tag === null ? '' : `:${event.tag}`}`,
    });
    if (id !== null) job.log(`execution ${id} of policy ${policy.id}`);
  }
}
