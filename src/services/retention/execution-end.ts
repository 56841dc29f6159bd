import type { EventActor, NewEvent } from '../../domain/events.js';
import type { Queryable } from '../../metadata/database.js';
import { recordEvent } from '../../metadata/outbox-table.js';
import { findProjectById } from '../../metadata/projects-table.js';
import {
  finishRetentionExecutionIfDone,
  tasksOfExecution,
  type RetentionExecutionRow,
} from '../../metadata/retention-executions-table.js';
import { findRetentionPolicy } from '../../metadata/retention-policies-table.js';

// The end of an execution: when its last task ends (or a stop ends them all), the execution takes
// its final status and, unless it was a dry run, records one retention.finished event in the same
// transaction (webhooks turn it into TAG_RETENTION), as Harbor reports a run that changed content.

/** Who retention's writes and events name: Wharf itself. */
export const RETENTION_ACTOR: EventActor = { name: 'tag-retention', kind: 'system', clientIp: null };

/** Ends the execution if every task has ended; returns the ended row, or null. */
export async function endExecutionIfDone(
  tx: Queryable,
  executionId: number,
): Promise<RetentionExecutionRow | null> {
  const ended = await finishRetentionExecutionIfDone(tx, executionId);
  if (!ended || ended.dry_run || ended.status === 'Running') return ended;
  const policy = await findRetentionPolicy(tx, ended.policy_id);
  const project = policy ? await findProjectById(tx, policy.project_id) : null;
  if (!policy || !project) return ended;
  const tasks = await tasksOfExecution(tx, executionId);
  const event: NewEvent<'retention.finished'> = {
    type: 'retention.finished',
    actor: RETENTION_ACTOR,
    projectName: project.name,
    data: {
      policyId: ended.policy_id,
      executionId: ended.id,
      status: ended.status,
      trigger: ended.trigger,
      total: tasks.reduce((n, t) => n + t.total, 0),
      retained: tasks.reduce((n, t) => n + t.retained, 0),
      deleted: tasks.flatMap((t) => t.deleted),
      rules: policy.policy.rules,
    },
  };
  await recordEvent(tx, event);
  return ended;
}
