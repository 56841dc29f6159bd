import type { RecordedEvent } from '../../domain/events.js';
import type { Database, Queryable } from '../../metadata/database.js';
import {
  endTask,
  pruneEndedExecutions,
  findDelivery,
  firstOpenTask,
  noteFailedAttempt,
  openTaskBefore,
  startAttempt,
  type DeliveryRow,
} from '../../metadata/webhook-deliveries-table.js';
import { findWebhookPolicyById, repositoryFacts } from '../../metadata/webhook-policies-table.js';
import { backoffMs, FinalJobFailure, type JobContext } from '../../jobs/queue.js';
import type { WebhookEventType } from './catalogue.js';
import { DELIVER_JOB, type DeliveryJobPayload } from './consumer.js';
import { buildPayload, type PayloadContext } from './payloads.js';
import type { WebhookPolicyService } from './policy-service.js';
import type { WebhookSender } from './sender.js';

// The job that delivers one task. Tasks of one order key go out strictly in event order: a job
// whose task has an open one before it ends at once (the earlier one starts it when it ends). A
// failed attempt is retried by the job service with exponential backoff until the deadline
// counted from the task's creation; then the task fails, its log says why, and the next task of
// the key is started in the same transaction, so a crash cannot leave a key stuck.

export interface DeliveryJobOptions {
  backoffBaseMs: number;
  backoffMaxMs: number;
  deadlineMs: number;
  /** Ended executions kept per policy; the delivery that ends one deletes the oldest beyond. */
  keepExecutions: number;
}

export interface DeliveryJobDeps {
  db: Database;
  jobs: {
    enqueue(type: string, payload: unknown, options: { db: Queryable }): Promise<unknown>;
    wake(): void;
  };
  policies: WebhookPolicyService;
  sender: WebhookSender;
  /** Where this registry is reached (resource_url, harbor_hostname). */
  registry: () => { host: string; url: string };
  /** Told how each attempt ended (the deliveries metric). */
  onDelivery?: ((status: DeliveryOutcome) => void) | undefined;
}

/** How one delivery attempt ended: delivered, given up (the task failed), or to be tried again. */
export type DeliveryOutcome = 'succeeded' | 'failed' | 'retrying';

const stamp = () => new Date().toISOString();

function taskIdOf(payload: unknown): number {
  const id = (payload as Partial<DeliveryJobPayload> | null)?.taskId;
  if (typeof id !== 'number') throw new FinalJobFailure('the job names no webhook task');
  return id;
}

/** Where this registry is, and the facts of the event's repository, read at delivery time. */
async function payloadContext(
  deps: DeliveryJobDeps,
  policy: { id: number; project_id: number },
  event: RecordedEvent,
): Promise<PayloadContext> {
  const repository = (event.data as { repository?: unknown }).repository;
  const where = deps.registry();
  return {
    registryHost: where.host,
    registryUrl: where.url,
    projectId: policy.project_id,
    policyId: policy.id,
    repository:
      typeof repository === 'string' && event.projectName
        ? await repositoryFacts(deps.db, event.projectName, repository)
        : null,
  };
}

export function deliveryHandler(deps: DeliveryJobDeps, options: DeliveryJobOptions) {
  /** Ends the task and starts the next one of its key, in one transaction. */
  const finish = async (d: DeliveryRow, status: 'Success' | 'Error', message: string, line: string) => {
    await deps.db.transaction(async (tx) => {
      await endTask(tx, d.id, status, message, line);
      await pruneEndedExecutions(tx, d.policy_id, options.keepExecutions);
      const next = await firstOpenTask(tx, d.order_key);
      if (next !== null)
        await deps.jobs.enqueue(DELIVER_JOB, { taskId: next } satisfies DeliveryJobPayload, { db: tx });
    });
    deps.jobs.wake();
    deps.onDelivery?.(status === 'Success' ? 'succeeded' : 'failed');
  };

  return async (job: JobContext): Promise<string> => {
    const taskId = taskIdOf(job.payload);
    const d = await findDelivery(deps.db, taskId);
    if (!d) return `webhook task ${taskId} no longer exists (its policy was deleted)`;
    if (d.status !== 'Pending' && d.status !== 'Running')
      return `webhook task ${taskId} ended already (${d.status})`;
    const before = await openTaskBefore(deps.db, d);
    if (before !== null)
      return `webhook task ${taskId} waits for task ${before} of the same policy, target and repository`;
    const started = await startAttempt(deps.db, taskId, job.id);
    if (!started) return `webhook task ${taskId} is delivered by another job`;
    const attempt = started.run_count;
    const policy = await findWebhookPolicyById(deps.db, d.policy_id);
    const stored = policy?.targets[d.target_index];
    if (!policy || !stored) {
      const message = 'the policy no longer has this target';
      await finish(d, 'Error', message, `${stamp()} attempt ${attempt}: ${message}`);
      throw new FinalJobFailure(message);
    }
    const target = deps.policies.openTarget(stored);
    const event = d.event as RecordedEvent;
    const type = d.event_type as WebhookEventType;
    const ctx = await payloadContext(deps, policy, event);
    const result = await deps.sender.send({
      address: target.address,
      payload: buildPayload(target.type, target.payloadFormat, type, event, ctx),
      authHeader: target.authHeader,
      skipCertVerify: target.skipCertVerify,
      secret: deps.policies.openSecret(policy),
      eventId: event.id,
      eventType: type,
      signal: job.signal,
    });
    if (result.ok) {
      const line = `${stamp()} attempt ${attempt}: delivered ${type} to ${target.address} (HTTP ${result.status})`;
      await finish(d, 'Success', '', line);
      return `delivered (HTTP ${result.status})`;
    }
    if (job.signal.aborted) throw new Error(result.message);
    // Judged as the job service would: the longest wait it may choose before the next try.
    const nextTry = Date.now() + backoffMs(job.attempt, options, () => 1);
    const final = result.final || nextTry >= d.creation_time.getTime() + options.deadlineMs;
    const line = `${stamp()} attempt ${attempt}: ${result.message}`;
    if (final) {
      const reason = result.final ? '' : '; retry deadline reached, the next delivery proceeds';
      await finish(d, 'Error', result.message, `${line}${reason}`);
      throw new FinalJobFailure(result.message);
    }
    await noteFailedAttempt(deps.db, taskId, result.message, `${line}; retrying`);
    deps.onDelivery?.('retrying');
    throw new Error(result.message);
  };
}
