import type { EventType } from '../../domain/events.js';

// What webhooks offer (Harbor's /webhook/events): the event types built so far with the outbox
// event each comes from, the notify types, and the payload formats each notify type supports.
// Later features add their types here (QUOTA_EXCEED, TAG_RETENTION, SCANNING_*).

export const WEBHOOK_EVENT_TYPES = [
  'PUSH_ARTIFACT',
  'PULL_ARTIFACT',
  'DELETE_ARTIFACT',
  'REPLICATION',
  'TAG_RETENTION',
  'QUOTA_EXCEED',
  'QUOTA_WARNING',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The outbox event behind each webhook event type. */
export const SOURCE_EVENT: Record<WebhookEventType, EventType> = {
  PUSH_ARTIFACT: 'artifact.pushed',
  PULL_ARTIFACT: 'artifact.pulled',
  DELETE_ARTIFACT: 'artifact.deleted',
  REPLICATION: 'replication.finished',
  TAG_RETENTION: 'retention.finished',
  QUOTA_EXCEED: 'quota.exceeded',
  QUOTA_WARNING: 'quota.warning',
};

/** CloudEvents `type` of each event type, as Harbor names them. */
export const CLOUDEVENTS_TYPE: Record<WebhookEventType, string> = {
  PUSH_ARTIFACT: 'harbor.artifact.pushed',
  PULL_ARTIFACT: 'harbor.artifact.pulled',
  DELETE_ARTIFACT: 'harbor.artifact.deleted',
  REPLICATION: 'harbor.replication.status.changed',
  TAG_RETENTION: 'harbor.tag_retention.finished',
  QUOTA_EXCEED: 'harbor.quota.exceed',
  QUOTA_WARNING: 'harbor.quota.warning',
};

export const NOTIFY_TYPES = ['http', 'slack'] as const;
export type NotifyType = (typeof NOTIFY_TYPES)[number];

export const PAYLOAD_FORMATS = ['Default', 'CloudEvents'] as const;
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

/** Slack takes its own message shape: only the default format applies. */
export const FORMATS_BY_NOTIFY_TYPE: Record<NotifyType, readonly PayloadFormat[]> = {
  http: PAYLOAD_FORMATS,
  slack: ['Default'],
};

export function webhookEventTypeOf(type: EventType): WebhookEventType | undefined {
  return WEBHOOK_EVENT_TYPES.find((t) => SOURCE_EVENT[t] === type);
}

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}
