import type { NewEvent } from '../../domain/events.js';
import type { Database, Queryable } from '../../metadata/database.js';
import { recordEvents } from '../../metadata/outbox-table.js';
import {
  endExecution,
  finishExecutionIfDone,
  stopOpenTasks,
  type ExecutionStatus,
} from '../../metadata/replication-executions-table.js';
import { finishedExecutionFacts } from '../../metadata/replication-finished-query.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';

// An execution's end and its replication.finished events (webhooks' REPLICATION) in one
// transaction: the events exist exactly when the execution has ended. One event per local
// project the run touched, since webhook policies belong to projects; a run that ended before
// it had tasks (planning failed, stopped early) names the local project its policy points at.

const SYSTEM = { name: 'replication', kind: 'system', clientIp: null } as const;

/** finishExecutionIfDone, recording the events when it did finish the execution. */
export function finishExecution(db: Database, executionId: number): Promise<ExecutionStatus | null> {
  return db.transaction(async (tx) => {
    const status = await finishExecutionIfDone(tx, executionId);
    if (status !== null && status !== 'InProgress') await recordFinished(tx, executionId, status);
    return status;
  });
}

/**
 * Ends an execution at once (its planning failed, or it is stopped on request) with its events;
 * open tasks are stopped with it. Resolves to the jobs of those tasks, for the caller to stop.
 */
export function endExecutionNow(
  db: Database,
  executionId: number,
  end: { status: 'Failed' | 'Stopped'; text: string; policy: ReplicationPolicy | null },
): Promise<number[]> {
  return db.transaction(async (tx) => {
    if (!(await endExecution(tx, executionId, end.status, end.text))) return [];
    const jobIds = await stopOpenTasks(tx, executionId);
    await recordFinished(tx, executionId, end.status, end.policy ? policyProject(end.policy) : null);
    return jobIds;
  });
}

/**
 * The local project a policy replicates from (push) or into (pull), when its name filter or
 * destination namespace names one literally; null when only a pattern does.
 */
export function policyProject(policy: ReplicationPolicy): string | null {
  // Pull into a namespace: every repository lands under it (naming.ts).
  if (policy.srcRegistryId !== null && policy.destNamespace !== '')
    return policy.destNamespace.split('/')[0] ?? null;
  const nameFilter = policy.filters.find((f) => f.type === 'name' && f.decoration !== 'excludes');
  const first = typeof nameFilter?.value === 'string' ? (nameFilter.value.split('/')[0] ?? '') : '';
  return first !== '' && !/[*?[\]{}\\]/.test(first) ? first : null;
}

async function recordFinished(
  tx: Queryable,
  executionId: number,
  status: 'Succeed' | 'Failed' | 'Stopped',
  projectWithoutTasks: string | null = null,
): Promise<void> {
  const facts = await finishedExecutionFacts(tx, executionId);
  if (!facts) return;
  const direction = facts.src_registry_id === null ? 'push' : 'pull';
  const byProject = new Map<string, { repositories: Set<string>; succeeded: number; failed: number }>();
  for (const t of facts.tasks) {
    const local = direction === 'push' ? t.src_repository : t.dst_repository;
    const project = local.split('/')[0] ?? '';
    const entry = byProject.get(project) ?? { repositories: new Set<string>(), succeeded: 0, failed: 0 };
    entry.repositories.add(local);
    if (t.status === 'Succeed') entry.succeeded++;
    if (t.status === 'Failed') entry.failed++;
    byProject.set(project, entry);
  }
  if (byProject.size === 0 && projectWithoutTasks !== null) {
    byProject.set(projectWithoutTasks, { repositories: new Set<string>(), succeeded: 0, failed: 0 });
  }
  const remote =
    facts.remote_name !== null
      ? { name: facts.remote_name, type: facts.remote_type ?? '', url: facts.remote_url ?? '' }
      : null;
  const events = [...byProject].map(([projectName, e]): NewEvent<'replication.finished'> => ({
    type: 'replication.finished',
    actor: SYSTEM,
    projectName,
    data: {
      policyId: facts.policy_id,
      policyName: facts.policy_name,
      executionId,
      status,
      trigger: facts.trigger,
      direction,
      remote,
      repositories: [...e.repositories].sort(),
      succeeded: e.succeeded,
      failed: e.failed,
    },
  }));
  await recordEvents(tx, events);
}
