import type { Database } from '../../metadata/database.js';
import type { ProjectRow } from '../../metadata/projects-table.js';
import {
  findWebhookExecution,
  lastWebhookTriggers,
  listWebhookExecutions,
  listWebhookTasks,
  webhookTaskLog,
  type WebhookExecutionRow,
  type WebhookTaskRow,
} from '../../metadata/webhook-deliveries-table.js';
import { listWebhookPolicies } from '../../metadata/webhook-policies-table.js';
import type { Principal } from '../principal.js';
import { ServiceError } from '../service-error.js';
import {
  FORMATS_BY_NOTIFY_TYPE,
  NOTIFY_TYPES,
  WEBHOOK_EVENT_TYPES,
  type NotifyType,
  type PayloadFormat,
  type WebhookEventType,
} from './catalogue.js';
import type { WebhookPolicyService } from './policy-service.js';

// What webhooks did (Harbor 2.9+'s executions, tasks and logs of a policy, and the project's last
// triggers) and what they offer (/webhook/events). An execution is one event for one policy; its
// status is derived from its tasks, so it can never disagree with them.

/** A delivery to one target, as the API shows it. */
export type WebhookTask = WebhookTaskRow;

export type ExecutionStatus = 'Pending' | 'Running' | 'Success' | 'Error' | 'Stopped';

export interface WebhookExecution extends WebhookExecutionRow {
  status: ExecutionStatus;
}

export interface LastTrigger {
  policyName: string;
  eventTypes: string[];
  enabled: boolean;
  creationTime: Date;
  lastTriggerTime: Date | null;
}

/** What a project's webhook policies may subscribe to and how they may deliver it. */
export interface WebhookOffer {
  eventTypes: WebhookEventType[];
  notifyTypes: Array<{ type: NotifyType; payloadFormats: PayloadFormat[] }>;
}

export function executionStatus(e: WebhookExecutionRow): ExecutionStatus {
  if (e.pending_count + e.running_count > 0) {
    return e.running_count > 0 || e.pending_count < e.task_count ? 'Running' : 'Pending';
  }
  if (e.error_count > 0) return 'Error';
  if (e.stopped_count > 0) return 'Stopped';
  return 'Success';
}

export class WebhookHistoryService {
  constructor(
    private readonly db: Database,
    private readonly policies: WebhookPolicyService,
  ) {}

  async executions(
    principal: Principal,
    project: ProjectRow,
    policyId: number,
    offset: number,
    limit: number,
  ): Promise<{ items: WebhookExecution[]; total: number }> {
    await this.policies.require(principal, project, 'list');
    await this.policies.row(project, policyId);
    const { items, total } = await listWebhookExecutions(this.db, policyId, offset, limit);
    return { items: items.map((e) => ({ ...e, status: executionStatus(e) })), total };
  }

  async tasks(
    principal: Principal,
    project: ProjectRow,
    policyId: number,
    executionId: number,
    offset: number,
    limit: number,
  ): Promise<{ items: WebhookTaskRow[]; total: number }> {
    await this.policies.require(principal, project, 'list');
    await this.execution(project, policyId, executionId);
    return listWebhookTasks(this.db, executionId, offset, limit);
  }

  async taskLog(
    principal: Principal,
    project: ProjectRow,
    policyId: number,
    executionId: number,
    taskId: number,
  ): Promise<string> {
    await this.policies.require(principal, project, 'read');
    await this.execution(project, policyId, executionId);
    const log = await webhookTaskLog(this.db, executionId, taskId);
    if (log === null)
      throw new ServiceError('not-found', `task ${taskId} not found in execution ${executionId}`);
    return log;
  }

  async lastTriggers(principal: Principal, project: ProjectRow): Promise<LastTrigger[]> {
    await this.policies.require(principal, project, 'read');
    const times = new Map(
      (await lastWebhookTriggers(this.db, project.id)).map((t) => [t.policy_id, t.last_trigger_time]),
    );
    const { items } = await listWebhookPolicies(this.db, project.id, {}, 0, 10_000);
    return items.map((p) => ({
      policyName: p.name,
      eventTypes: p.event_types,
      enabled: p.enabled,
      creationTime: p.creation_time,
      lastTriggerTime: times.get(p.id) ?? null,
    }));
  }

  async supported(principal: Principal, project: ProjectRow): Promise<WebhookOffer> {
    await this.policies.require(principal, project, 'read');
    return {
      eventTypes: [...WEBHOOK_EVENT_TYPES],
      notifyTypes: NOTIFY_TYPES.map((type) => ({ type, payloadFormats: [...FORMATS_BY_NOTIFY_TYPE[type]] })),
    };
  }

  private async execution(
    project: ProjectRow,
    policyId: number,
    executionId: number,
  ): Promise<WebhookExecutionRow> {
    await this.policies.row(project, policyId);
    const e = await findWebhookExecution(this.db, policyId, executionId);
    if (!e)
      throw new ServiceError('not-found', `execution ${executionId} of webhook policy ${policyId} not found`);
    return e;
  }
}
