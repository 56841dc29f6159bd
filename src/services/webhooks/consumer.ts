import type { RecordedEvent } from '../../domain/events.js';
import type { Queryable } from '../../metadata/database.js';
import { insertWebhookExecution } from '../../metadata/webhook-deliveries-table.js';
import { enabledPoliciesFor } from '../../metadata/webhook-policies-table.js';
import type { EventConsumer } from '../events/consumer.js';
import { SOURCE_EVENT, WEBHOOK_EVENT_TYPES, webhookEventTypeOf } from './catalogue.js';

// The outbox consumer of webhooks: inside the dispatcher's transaction it writes one execution per
// (enabled policy, event) with one task per target, and a durable delivery job per task, so an
// event is either wholly turned into deliveries or not at all (and handed out again). An event
// handed out twice (a crash before the dispatcher committed) finds its execution and adds nothing.

export const DELIVER_JOB = 'webhook.deliver';

export interface DeliveryJobPayload {
  taskId: number;
}

/** Deliveries of one key go out in event order: one policy, one target, one repository. */
export function orderKey(policyId: number, targetIndex: number, event: RecordedEvent): string {
  const data = event.data as { repository?: unknown };
  const repository = typeof data.repository === 'string' ? data.repository : '';
  return `${policyId}/${targetIndex}/${repository}`;
}

export interface JobEnqueuer {
  enqueue(type: string, payload: unknown, options: { db: Queryable }): Promise<unknown>;
}

export class WebhookConsumer implements EventConsumer {
  readonly name = 'webhooks';
  readonly types = new Set(WEBHOOK_EVENT_TYPES.map((t) => SOURCE_EVENT[t]));

  constructor(private readonly jobs: JobEnqueuer) {}

  async consume(tx: Queryable, events: readonly RecordedEvent[]): Promise<void> {
    const projects = [...new Set(events.map((e) => e.projectName).filter((p): p is string => p !== null))];
    const types = [...new Set(events.map((e) => webhookEventTypeOf(e.type)).filter((t) => t !== undefined))];
    const policies = await enabledPoliciesFor(tx, projects, types);
    if (policies.length === 0) return;
    for (const event of events) {
      const type = webhookEventTypeOf(event.type);
      if (!type) continue;
      for (const policy of policies) {
        if (policy.project_name !== event.projectName || !policy.event_types.includes(type)) continue;
        const taskIds = await insertWebhookExecution(tx, {
          policyId: policy.id,
          eventId: event.id,
          eventSequence: event.sequence,
          eventType: type,
          event,
          orderKeys: policy.targets.map((_, i) => orderKey(policy.id, i, event)),
        });
        for (const taskId of taskIds) {
          await this.jobs.enqueue(DELIVER_JOB, { taskId } satisfies DeliveryJobPayload, { db: tx });
        }
      }
    }
  }
}
