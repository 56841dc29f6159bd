import type { JobService } from '../../jobs/job-service.js';
import { RETRY_UNTIL_DEADLINE, type JobTypeDefinition } from '../../jobs/queue.js';
import type { Database } from '../../metadata/database.js';
import type { OutboundGuard } from '../../net/outbound-guard.js';
import type { ProjectService } from '../project-service.js';
import type { SecretBox } from '../secret-box.js';
import { DELIVER_JOB, WebhookConsumer } from './consumer.js';
import { deliveryHandler, type DeliveryOutcome } from './delivery-job.js';
import { WebhookHistoryService } from './history-service.js';
import { WebhookPolicyService } from './policy-service.js';
import { WebhookSender } from './sender.js';

// Webhooks assembled for the composition root (src/wiring/): the policy and history services for
// the API, the outbox consumer for the dispatcher, and the delivery job type on the job service.

export interface WebhookSettings {
  retry_backoff_seconds: number;
  retry_backoff_max_seconds: number;
  retry_deadline_hours: number;
  timeout_seconds: number;
  keep_executions: number;
}

export interface WebhookModuleDeps {
  db: Database;
  projects: ProjectService;
  box: SecretBox;
  outbound: OutboundGuard;
  jobs: JobService;
  settings: WebhookSettings;
  /** Where clients reach this registry (http.external_url, else its own listening URL). */
  registryUrl: () => string;
  /** Called as each delivery attempt ends (wharf_webhook_deliveries_total{status}). */
  onDelivery?: (status: DeliveryOutcome) => void;
}

export interface WebhookModule {
  policies: WebhookPolicyService;
  history: WebhookHistoryService;
  consumer: WebhookConsumer;
  /** The delivery job type; the composition root registers it on the job service. */
  jobTypes: JobTypeDefinition[];
  close(): Promise<void>;
}

export function createWebhooks(deps: WebhookModuleDeps): WebhookModule {
  const policies = new WebhookPolicyService(deps.db, deps.projects, deps.box, deps.outbound);
  const sender = new WebhookSender(deps.outbound, deps.settings.timeout_seconds * 1000);
  const options = {
    backoffBaseMs: deps.settings.retry_backoff_seconds * 1000,
    backoffMaxMs: deps.settings.retry_backoff_max_seconds * 1000,
    deadlineMs: deps.settings.retry_deadline_hours * 3_600_000,
    keepExecutions: deps.settings.keep_executions,
  };
  const registry = () => {
    const url = deps.registryUrl().replace(/\/+$/, '');
    return { url, host: url ? new URL(url).host : '' };
  };
  // The handler judges the deadline itself (so the task's end and the next start share a
  // transaction): the job service only retries, without a count or a deadline of its own.
  const delivery: JobTypeDefinition = {
    type: DELIVER_JOB,
    handler: deliveryHandler(
      { db: deps.db, jobs: deps.jobs, policies, sender, registry, onDelivery: deps.onDelivery },
      options,
    ),
    options: {
      maxAttempts: RETRY_UNTIL_DEADLINE,
      deadlineMs: null,
      backoffBaseMs: options.backoffBaseMs,
      backoffMaxMs: options.backoffMaxMs,
    },
  };
  return {
    policies,
    history: new WebhookHistoryService(deps.db, policies),
    consumer: new WebhookConsumer(deps.jobs),
    jobTypes: [delivery],
    close: () => sender.close(),
  };
}
