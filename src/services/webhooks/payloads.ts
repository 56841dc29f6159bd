import { CloudEvent, HTTP } from 'cloudevents';
import type { ArtifactEventData, RecordedEvent, ReplicationFinishedData } from '../../domain/events.js';
import { CLOUDEVENTS_TYPE, type PayloadFormat, type WebhookEventType } from './catalogue.js';
import { retentionBlock, retentionSlackText } from './retention-payload.js';
import { quotaBlock, quotaSlackText } from './quota-payload.js';

// The bodies webhooks send, built from an outbox event: Harbor's Default JSON (type, occur_at,
// operator, event_data), CloudEvents 1.0 in structured mode (Harbor's choice: one JSON document,
// Content-Type application/cloudevents+json) and a Slack message. Pure code.

/** What a payload needs besides the event: where this registry is, and the repository's facts. */
export interface PayloadContext {
  /** host[:port] clients pull from (resource_url, harbor_hostname). */
  registryHost: string;
  /** The registry's base URL (the local side of a replication). */
  registryUrl: string;
  projectId: number;
  policyId: number;
  repository: { public: boolean; created: Date | null } | null;
}

export interface Payload {
  contentType: string;
  body: string;
}

type EventData = Record<string, unknown>;

const seconds = (d: Date | string | null) => (d ? Math.floor(new Date(d).getTime() / 1000) : 0);

function resourcesOf(type: WebhookEventType, event: RecordedEvent, host: string): EventData[] {
  const resource = (repository: string, digest: string, tag: string | null) => ({
    digest,
    // Harbor puts the digest where there is no tag (a pull by digest, an untagged artifact).
    tag: tag ?? digest,
    resource_url: tag ? `${host}/${repository}:${tag}` : `${host}/${repository}@${digest}`,
  });
  if (type === 'PULL_ARTIFACT') {
    const d = event.data as { repository: string; digest: string; tag: string | null };
    return [resource(d.repository, d.digest, d.tag)];
  }
  const d = event.data as ArtifactEventData;
  if (d.tags.length === 0) return [resource(d.repository, d.digest, null)];
  return d.tags.map((tag) => resource(d.repository, d.digest, tag));
}

function repositoryBlock(repository: string, ctx: PayloadContext): EventData {
  const slash = repository.indexOf('/');
  return {
    date_created: seconds(ctx.repository?.created ?? null),
    name: repository.slice(slash + 1),
    namespace: repository.slice(0, slash),
    repo_full_name: repository,
    repo_type: ctx.repository?.public ? 'public' : 'private',
  };
}

function replicationBlock(event: RecordedEvent, ctx: PayloadContext): EventData {
  const d = event.data as ReplicationFinishedData;
  const namespace = event.projectName ?? '';
  const local = { registry_name: 'Local', registry_type: 'harbor', endpoint: ctx.registryUrl, namespace };
  const remote = {
    registry_name: d.remote?.name ?? '',
    registry_type: d.remote?.type ?? '',
    endpoint: d.remote?.url ?? '',
    namespace,
  };
  return {
    harbor_hostname: ctx.registryHost,
    job_status: d.status,
    trigger_type: d.trigger,
    policy_id: d.policyId,
    policy_name: d.policyName,
    execution_id: d.executionId,
    execution_timestamp: seconds(event.occurredAt),
    src_resource: d.direction === 'push' ? local : remote,
    dest_resource: d.direction === 'push' ? remote : local,
    repositories: d.repositories,
    succeeded_count: d.succeeded,
    failed_count: d.failed,
  };
}

/** Harbor's event_data of an event. */
export function eventData(type: WebhookEventType, event: RecordedEvent, ctx: PayloadContext): EventData {
  if (type === 'REPLICATION') return { replication: replicationBlock(event, ctx) };
  if (type === 'TAG_RETENTION') return { retention: retentionBlock(event, ctx.registryHost) };
  if (type === 'QUOTA_EXCEED' || type === 'QUOTA_WARNING') {
    return quotaBlock(event, ctx.repository?.public ?? false);
  }
  const repository = (event.data as { repository: string }).repository;
  return {
    resources: resourcesOf(type, event, ctx.registryHost),
    repository: repositoryBlock(repository, ctx),
  };
}

export function defaultPayload(type: WebhookEventType, event: RecordedEvent, ctx: PayloadContext): Payload {
  const body = {
    type,
    occur_at: seconds(event.occurredAt),
    operator: event.actor.name,
    event_data: eventData(type, event, ctx),
  };
  return { contentType: 'application/json', body: JSON.stringify(body) };
}

/** CloudEvents 1.0, structured mode; its `id` is the outbox event's id (the idempotency key). */
export function cloudEventsPayload(
  type: WebhookEventType,
  event: RecordedEvent,
  ctx: PayloadContext,
): Payload {
  const ce = new CloudEvent({
    id: event.id,
    source: `/projects/${ctx.projectId}/webhook/policies/${ctx.policyId}`,
    type: CLOUDEVENTS_TYPE[type],
    time: new Date(event.occurredAt).toISOString(),
    datacontenttype: 'application/json',
    data: eventData(type, event, ctx),
    operator: event.actor.name,
  });
  const message = HTTP.structured(ce);
  return { contentType: 'application/cloudevents+json', body: String(message.body) };
}

function slackText(type: WebhookEventType, event: RecordedEvent, ctx: PayloadContext): string {
  if (type === 'TAG_RETENTION') return retentionSlackText(event);
  if (type === 'QUOTA_EXCEED' || type === 'QUOTA_WARNING') return quotaSlackText(type, event);
  if (type === 'REPLICATION') {
    const d = event.data as ReplicationFinishedData;
    return `*REPLICATION* of policy ${d.policyName} (execution ${d.executionId}) ended: ${d.status}, ${d.succeeded} succeeded, ${d.failed} failed, by ${event.actor.name}`;
  }
  const lines = resourcesOf(type, event, ctx.registryHost).map((r) => `• ${String(r.resource_url)}`);
  return [`*${type}* by ${event.actor.name} at ${new Date(event.occurredAt).toISOString()}`, ...lines].join(
    '\n',
  );
}

/** A Slack incoming-webhook message: `text` for notifications, one mrkdwn block for the channel. */
export function slackPayload(type: WebhookEventType, event: RecordedEvent, ctx: PayloadContext): Payload {
  const text = slackText(type, event, ctx);
  const body = { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
  return { contentType: 'application/json', body: JSON.stringify(body) };
}

export function buildPayload(
  notifyType: string,
  format: PayloadFormat,
  type: WebhookEventType,
  event: RecordedEvent,
  ctx: PayloadContext,
): Payload {
  if (notifyType === 'slack') return slackPayload(type, event, ctx);
  return format === 'CloudEvents' ? cloudEventsPayload(type, event, ctx) : defaultPayload(type, event, ctx);
}
