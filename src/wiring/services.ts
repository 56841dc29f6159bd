import { pullStatsConsumer } from '../services/events/pull-stats-consumer.js';
import type { EventDispatcher } from '../services/events/dispatcher.js';
import { createWebhooks, type WebhookModule } from '../services/webhooks/index.js';
import { buildAccess, type AccessServices } from './access.js';
import { buildAudit, type AuditServices } from './audit.js';
import { createEventDispatcher } from './event-dispatch.js';
import { buildGc } from './gc.js';
import { buildJobs, registerJobTypes, type JobServices } from './jobs.js';
import type { Platform } from './platform.js';
import { buildRegistry, type RegistryServices } from './registry.js';
import { buildReplication, type ReplicationServices } from './replication.js';
import { buildRetention } from './retention.js';
import type { RetentionModule } from '../services/retention/index.js';

// The service graph, built from the configuration and the backends (through the platform) by one
// small builder per area; each area gets what it depends on as an argument, so the order below is
// the order of dependence. Nothing here starts: src/wharf.ts starts the parts once the app listens.

export interface Services {
  platform: Platform;
  access: AccessServices;
  registry: RegistryServices;
  audit: AuditServices;
  jobs: JobServices;
  replication: ReplicationServices;
  /** Tag retention: policies and executions. */
  retention: RetentionModule;
  webhooks: WebhookModule;
  /** The outbox's dispatcher, feeding the consumers (pull statistics, replication, webhooks, audit). */
  dispatcher: EventDispatcher;
}

export async function buildServices(platform: Platform): Promise<Services> {
  const access = await buildAccess(platform);
  const registry = buildRegistry(platform, access);
  const audit = buildAudit(platform);
  const jobs = buildJobs(platform, audit.audit);
  buildGc(platform, registry, jobs);
  const replication = buildReplication(platform, access, registry, jobs.jobs);
  const retention = buildRetention(platform, access, registry, jobs.jobs);
  const webhooks = buildWebhooks(platform, access, jobs);
  const dispatcher = buildDispatcher(platform, replication, webhooks, audit, jobs);
  return { platform, access, registry, audit, jobs, replication, retention, webhooks, dispatcher };
}

/** Webhook policies for the API, a consumer of the outbox, and the delivery job type. */
function buildWebhooks(
  { config, db, secretBox, outbound, late, metrics }: Platform,
  { projects }: AccessServices,
  { jobs }: JobServices,
): WebhookModule {
  const webhooks = createWebhooks({
    db,
    projects,
    box: secretBox,
    outbound,
    jobs,
    settings: config.webhooks,
    registryUrl: () => config.http.external_url ?? late.localUrl,
    onDelivery: (status) => metrics.webhookDeliveries.inc({ status }),
  });
  registerJobTypes(jobs, webhooks.jobTypes);
  return webhooks;
}

/** The outbox's consumers, in the order they are given each batch (services/events/dispatcher.ts). */
function buildDispatcher(
  platform: Platform,
  replication: ReplicationServices,
  webhooks: WebhookModule,
  { audit }: AuditServices,
  { jobs }: JobServices,
): EventDispatcher {
  const { config, logger, db, metrics, late } = platform;
  const consumers = [
    pullStatsConsumer(),
    replication.executions.eventConsumer(),
    webhooks.consumer,
    audit.consumer,
  ];
  const dispatcher = createEventDispatcher(config, logger, db, consumers, metrics.registry, () =>
    jobs.wake(),
  );
  // The services' database wakes the dispatcher after each commit that recorded events.
  late.nudgeDispatcher = () => dispatcher.nudge();
  return dispatcher;
}
