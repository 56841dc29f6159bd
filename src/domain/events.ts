// What happened to content and to the things around it, as recorded in the outbox
// (metadata/outbox-table.ts) in the same transaction as the change itself. Consumers (audit, pull
// statistics, replication triggers, webhooks) read these; an event's id is the key a consumer
// deduplicates on, because delivery is at least once.

/** Who did it. `system` is Wharf itself (replication, retention, GC). */
export interface EventActor {
  name: string;
  kind: 'user' | 'robot' | 'anonymous' | 'system';
  clientIp: string | null;
}

export interface ArtifactEventData {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  /** The tags the artifact had (deleted) or was given (pushed) by this change. */
  tags: string[];
}

/**
 * Each event type and what it carries. Features add their types here (a project change, a member
 * change, a quota warning) as they start recording them.
 */
export interface EventDataByType {
  'artifact.pushed': ArtifactEventData;
  'artifact.deleted': ArtifactEventData;
  /** Pulls are recorded in batches: `count` pulls of one digest since the last batch. */
  'artifact.pulled': { repository: string; digest: string; tag: string | null; count: number };
  'tag.created': { repository: string; tag: string; digest: string };
  'tag.deleted': { repository: string; tag: string; digest: string | null };
  'repository.deleted': { repository: string };
  // Administrative changes, recorded by their services in the change's own transaction.
  'project.created': ObjectChangeData;
  'project.updated': ObjectChangeData;
  'project.deleted': ObjectChangeData;
  'member.added': MemberEventData;
  'member.role_changed': MemberEventData;
  'member.removed': MemberEventData;
  'robot.created': RobotEventData;
  'robot.updated': RobotEventData;
  'robot.disabled': RobotEventData;
  'robot.enabled': RobotEventData;
  'robot.secret_refreshed': RobotEventData;
  'robot.deleted': RobotEventData;
  'user.created': ObjectChangeData;
  'user.updated': ObjectChangeData;
  'user.deleted': ObjectChangeData;
  'user.password_changed': ObjectChangeData;
  /** `changes.sysadmin_flag` says which way. */
  'user.admin_changed': ObjectChangeData;
  /** A session sign-in (portal or API), successful or not; a token fetch is not a login. */
  'user.login': { name: string; result: 'success' | 'failure' };
  'replication_policy.created': ObjectChangeData;
  'replication_policy.updated': ObjectChangeData;
  'replication_policy.deleted': ObjectChangeData;
  'registry_endpoint.created': ObjectChangeData;
  'registry_endpoint.updated': ObjectChangeData;
  'registry_endpoint.deleted': ObjectChangeData;
  'webhook_policy.created': ObjectChangeData;
  'webhook_policy.updated': ObjectChangeData;
  'webhook_policy.deleted': ObjectChangeData;
  /** Tag immutability rules; `name` says the rule's selectors. */
  'immutable_rule.created': ObjectChangeData;
  'immutable_rule.updated': ObjectChangeData;
  'immutable_rule.deleted': ObjectChangeData;
  /** Labels: `projectId` is the project of a project label, null for a global one. */
  'label.created': ObjectChangeData & { projectId: number | null };
  'label.updated': ObjectChangeData & { projectId: number | null };
  'label.deleted': ObjectChangeData & { projectId: number | null };
  'artifact.label_attached': ArtifactLabelEventData;
  'artifact.label_detached': ArtifactLabelEventData;
  /** A repository's own fields changed (its description); `name` is the full repository name. */
  'repository.updated': ObjectChangeData;
  /** An administrator lifted login locks of a login name, a client address, or the pair. */
  'login_lock.lifted': { account: string | null; address: string | null; lifted: number };
  /** A replication execution ended; recorded once per local project it touched. */
  'replication.finished': ReplicationFinishedData;
  /** A write refused by its project's storage quota (recorded after the write rolled back). */
  'quota.exceeded': QuotaEventData;
  /** A write took its project's storage usage to the warning share of the limit. */
  'quota.warning': QuotaEventData;
  /** A tag retention execution ended (not a dry run): what it kept and removed. */
  'retention.finished': RetentionFinishedData;
}

/** A project's storage quota refused a write or neared its limit (Harbor's QUOTA_* webhooks). */
export interface QuotaEventData {
  repository: string;
  digest: string | null;
  tag: string | null;
  /** Harbor's words for what happened (its webhook's custom_attributes.Details). */
  message: string;
  /** The limit and the usage the write found, in bytes. */
  hard: number;
  used: number;
}

/** A label put on or taken off an artifact. */
export interface ArtifactLabelEventData {
  repository: string;
  digest: string;
  label: string;
  labelId: number;
}

/** The end of a replication execution, as webhooks (REPLICATION) report it. */
export interface ReplicationFinishedData {
  policyId: number;
  policyName: string;
  executionId: number;
  status: 'Succeed' | 'Failed' | 'Stopped';
  trigger: string;
  /** push: this registry was the source; pull: the destination. */
  direction: 'push' | 'pull';
  /** The peer, as its registry endpoint names it (null when gone). */
  remote: { name: string; type: string; url: string } | null;
  /** The local repositories of the project the event belongs to that the run copied or deleted. */
  repositories: string[];
  succeeded: number;
  failed: number;
}

/** The end of a tag retention execution, as webhooks (TAG_RETENTION) report it. */
export interface RetentionFinishedData {
  policyId: number;
  executionId: number;
  status: 'Success' | 'Error' | 'Stopped';
  trigger: string;
  /** Artifacts the run looked at, and those it kept (immutable ones included). */
  total: number;
  retained: number;
  deleted: Array<{ repository: string; digest: string; tags: string[] }>;
  /** The policy's rules as Harbor's JSON (template, params, selectors). */
  rules: unknown[];
}

/** What an update changed: field name to its new value (never a secret). */
export type ChangedFields = Record<string, string | number | boolean | null>;

/** The object an administrative change is about, named as people know it. */
export interface ObjectChangeData {
  name: string;
  id: number | null;
  changes?: ChangedFields;
}

export interface MemberEventData {
  /** The user's or group's name, and which of the two it is. */
  member: string;
  memberKind: 'user' | 'group';
  /** The role after the change (the role removed, for `member.removed`). */
  role: string;
  /** The role before a role change. */
  previousRole?: string;
}

export interface RobotEventData extends ObjectChangeData {
  /** `robot$name` (system) or `robot$project+name` (project), as the robot signs in. */
  name: string;
  level: 'system' | 'project';
}

export type EventType = keyof EventDataByType;

/** An event as a writer records it. */
export interface NewEvent<T extends EventType = EventType> {
  type: T;
  actor: EventActor;
  /** The project the event belongs to (null for system-wide events). */
  projectName: string | null;
  data: EventDataByType[T];
}

/** An event as the outbox holds it. */
export type RecordedEvent<T extends EventType = EventType> = NewEvent<T> & {
  /** The deduplication key: the same for every delivery of this event. */
  id: string;
  /** Commit-independent order of recording; consumers order by it within a key. */
  sequence: number;
  occurredAt: Date;
};

export function isEventOfType<T extends EventType>(event: RecordedEvent, type: T): event is RecordedEvent<T> {
  return event.type === type;
}
