import type { ChangedFields, EventType, RecordedEvent } from '../../domain/events.js';
import type { AuditEntry } from '../../metadata/audit-table.js';

// How each outbox event reads in the audit log: the resource type and operation Harbor uses
// (their pair is an "event type" of /auditlog-exts/events, e.g. create_artifact), the object it
// names, and a sentence saying what changed. One table, so the event-type list and the entries
// cannot disagree.

interface Described {
  resource: string;
  description: string;
  success?: boolean;
}

interface AuditKind<T extends EventType> {
  resourceType: string;
  operation: string;
  describe: (event: RecordedEvent<T>) => Described;
}

type AdminObjectType =
  | 'project.created'
  | 'project.updated'
  | 'project.deleted'
  | 'user.created'
  | 'user.updated'
  | 'user.deleted'
  | 'replication_policy.created'
  | 'replication_policy.updated'
  | 'replication_policy.deleted'
  | 'registry_endpoint.created'
  | 'registry_endpoint.updated'
  | 'registry_endpoint.deleted'
  | 'webhook_policy.created'
  | 'webhook_policy.updated'
  | 'webhook_policy.deleted'
  | 'immutable_rule.created'
  | 'immutable_rule.updated'
  | 'immutable_rule.deleted'
  | 'label.created'
  | 'label.updated'
  | 'label.deleted';

type RobotType =
  | 'robot.created'
  | 'robot.updated'
  | 'robot.disabled'
  | 'robot.enabled'
  | 'robot.secret_refreshed'
  | 'robot.deleted';

const tagged = (tags: readonly string[], word: string) =>
  tags.length > 0 ? ` ${word} ${tags.join(', ')}` : '';

function changed(changes: ChangedFields | undefined): string {
  const parts = Object.entries(changes ?? {}).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length > 0 ? `: ${parts.join(', ')}` : '';
}

function adminObject(resourceType: string, operation: string, verb: string): AuditKind<AdminObjectType> {
  const noun = resourceType.replace('_', ' ');
  return {
    resourceType,
    operation,
    describe: (e) => ({
      resource: e.data.name,
      description: `${verb} ${noun} ${e.data.name}${changed(e.data.changes)}`,
    }),
  };
}

function robot(operation: string, verb: string): AuditKind<RobotType> {
  return {
    resourceType: 'robot',
    operation,
    describe: (e) => ({
      resource: e.data.name,
      description: `${verb} ${e.data.level} robot ${e.data.name}${changed(e.data.changes)}`,
    }),
  };
}

const KINDS: { [T in EventType]?: AuditKind<T> } = {
  'artifact.pushed': {
    resourceType: 'artifact',
    operation: 'create',
    describe: ({ data: d }) => ({
      resource: d.tags.length === 1 ? `${d.repository}:${d.tags[0]}` : `${d.repository}@${d.digest}`,
      description: `pushed ${d.repository}@${d.digest}${tagged(d.tags, 'tagged')}`,
    }),
  },
  'artifact.deleted': {
    resourceType: 'artifact',
    operation: 'delete',
    describe: ({ data: d }) => ({
      resource: `${d.repository}@${d.digest}`,
      description: `deleted ${d.repository}@${d.digest}${tagged(d.tags, 'with tags')}`,
    }),
  },
  'artifact.pulled': {
    resourceType: 'artifact',
    operation: 'pull',
    describe: ({ data: d }) => ({
      resource: d.tag === null ? `${d.repository}@${d.digest}` : `${d.repository}:${d.tag}`,
      description: `pulled ${d.repository}@${d.digest}${d.count > 1 ? ` ${d.count} times` : ''}`,
    }),
  },
  'tag.created': {
    resourceType: 'tag',
    operation: 'create',
    describe: ({ data: d }) => ({
      resource: `${d.repository}:${d.tag}`,
      description: `tagged ${d.repository}@${d.digest} as ${d.tag}`,
    }),
  },
  'tag.deleted': {
    resourceType: 'tag',
    operation: 'delete',
    describe: ({ data: d }) => ({
      resource: `${d.repository}:${d.tag}`,
      description: `removed tag ${d.tag} from ${d.repository}${d.digest ? `@${d.digest}` : ''}`,
    }),
  },
  'repository.deleted': {
    resourceType: 'repository',
    operation: 'delete',
    describe: ({ data: d }) => ({
      resource: d.repository,
      description: `deleted repository ${d.repository}`,
    }),
  },
  'project.created': adminObject('project', 'create', 'created'),
  'project.updated': adminObject('project', 'update', 'updated'),
  'project.deleted': adminObject('project', 'delete', 'deleted'),
  'member.added': {
    resourceType: 'member',
    operation: 'create',
    describe: ({ data: d, projectName }) => ({
      resource: d.member,
      description: `added ${d.memberKind} ${d.member} to project ${projectName ?? ''} as ${d.role}`,
    }),
  },
  'member.role_changed': {
    resourceType: 'member',
    operation: 'update',
    describe: ({ data: d, projectName }) => ({
      resource: d.member,
      description: `changed the role of ${d.memberKind} ${d.member} in project ${projectName ?? ''} from ${d.previousRole ?? 'none'} to ${d.role}`,
    }),
  },
  'member.removed': {
    resourceType: 'member',
    operation: 'delete',
    describe: ({ data: d, projectName }) => ({
      resource: d.member,
      description: `removed ${d.memberKind} ${d.member} (${d.role}) from project ${projectName ?? ''}`,
    }),
  },
  'robot.created': robot('create', 'created'),
  'robot.updated': robot('update', 'updated'),
  'robot.disabled': robot('disable', 'disabled'),
  'robot.enabled': robot('enable', 'enabled'),
  'robot.secret_refreshed': robot('refresh_secret', 'refreshed the secret of'),
  'robot.deleted': robot('delete', 'deleted'),
  'user.created': adminObject('user', 'create', 'created'),
  'user.updated': adminObject('user', 'update', 'updated'),
  'user.deleted': adminObject('user', 'delete', 'deleted'),
  'user.password_changed': {
    resourceType: 'user',
    operation: 'change_password',
    describe: ({ data: d }) => ({ resource: d.name, description: `changed the password of user ${d.name}` }),
  },
  'user.admin_changed': {
    resourceType: 'user',
    operation: 'change_sysadmin',
    describe: ({ data: d }) => ({
      resource: d.name,
      description: `${d.changes?.sysadmin_flag === true ? 'granted' : 'revoked'} system administrator rights of user ${d.name}`,
    }),
  },
  'user.login': {
    resourceType: 'user',
    operation: 'login',
    describe: ({ data: d }) => ({
      resource: d.name,
      description: d.result === 'success' ? `${d.name} signed in` : `failed sign-in as ${d.name}`,
      success: d.result === 'success',
    }),
  },
  'replication_policy.created': adminObject('replication_policy', 'create', 'created'),
  'replication_policy.updated': adminObject('replication_policy', 'update', 'updated'),
  'replication_policy.deleted': adminObject('replication_policy', 'delete', 'deleted'),
  'registry_endpoint.created': adminObject('registry', 'create', 'created'),
  'registry_endpoint.updated': adminObject('registry', 'update', 'updated'),
  'registry_endpoint.deleted': adminObject('registry', 'delete', 'deleted'),
  'webhook_policy.created': adminObject('webhook_policy', 'create', 'created'),
  'webhook_policy.updated': adminObject('webhook_policy', 'update', 'updated'),
  'webhook_policy.deleted': adminObject('webhook_policy', 'delete', 'deleted'),
  'immutable_rule.created': adminObject('immutable_rule', 'create', 'created'),
  'immutable_rule.updated': adminObject('immutable_rule', 'update', 'updated'),
  'immutable_rule.deleted': adminObject('immutable_rule', 'delete', 'deleted'),
  'label.created': adminObject('label', 'create', 'created'),
  'label.updated': adminObject('label', 'update', 'updated'),
  'label.deleted': adminObject('label', 'delete', 'deleted'),
  'artifact.label_attached': {
    resourceType: 'artifact',
    operation: 'attach_label',
    describe: ({ data: d }) => ({
      resource: `${d.repository}@${d.digest}`,
      description: `attached label ${d.label} (id ${d.labelId}) to ${d.repository}@${d.digest}`,
    }),
  },
  'artifact.label_detached': {
    resourceType: 'artifact',
    operation: 'detach_label',
    describe: ({ data: d }) => ({
      resource: `${d.repository}@${d.digest}`,
      description: `detached label ${d.label} (id ${d.labelId}) from ${d.repository}@${d.digest}`,
    }),
  },
  'repository.updated': {
    resourceType: 'repository',
    operation: 'update',
    describe: ({ data: d }) => ({
      resource: d.name,
      description: `updated repository ${d.name}${changed(d.changes)}`,
    }),
  },
  'login_lock.lifted': {
    resourceType: 'login_lock',
    operation: 'lift',
    describe: ({ data: d }) => {
      const of = [d.account !== null && `of ${d.account}`, d.address !== null && `from ${d.address}`];
      const target = of.filter((part) => part !== false).join(' ');
      return {
        resource: d.account ?? d.address ?? '',
        description: `lifted the login locks ${target} (${d.lifted} cleared)`,
      };
    },
  },
};

function kindOf(type: EventType): AuditKind<EventType> | undefined {
  return KINDS[type] as AuditKind<EventType> | undefined;
}

/** The event types the audit log records. */
export const AUDITED_TYPES: ReadonlySet<EventType> = new Set(
  (Object.keys(KINDS) as EventType[]).filter((t) => kindOf(t) !== undefined),
);

/** Harbor's event-type names (`operation_resourcetype`, e.g. create_artifact), sorted. */
export function auditEventTypeNames(): string[] {
  const names = new Set<string>();
  for (const type of AUDITED_TYPES) {
    const kind = kindOf(type);
    if (kind) names.add(`${kind.operation}_${kind.resourceType}`);
  }
  return [...names].sort();
}

/** The audit entry of an event, or null for a type the audit log does not record. */
export function auditEntryOf(event: RecordedEvent): AuditEntry | null {
  const kind = kindOf(event.type);
  if (!kind) return null;
  const d = kind.describe(event);
  const projectId = projectIdOf(event);
  return {
    projectId,
    projectName: projectId === null ? event.projectName : null,
    operator: event.actor.name,
    operatorKind: event.actor.kind,
    resourceType: kind.resourceType,
    resource: d.resource,
    operation: kind.operation,
    description: d.description,
    success: d.success ?? true,
    clientIp: event.actor.clientIp,
    time: event.occurredAt,
    eventId: event.id,
  };
}

/**
 * A deleted project is gone by the time its event is read: its id travels in the event. A label
 * names its project by id (global labels belong to none).
 */
function projectIdOf(event: RecordedEvent): number | null {
  if (event.type.startsWith('project.')) return (event as RecordedEvent<'project.created'>).data.id;
  if (event.type.startsWith('label.')) return (event as RecordedEvent<'label.created'>).data.projectId;
  return null;
}
