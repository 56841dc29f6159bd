// The one permission table. Every /v2 request and every /api/v2.0 request is authorised through
// `roleAllows` / `AccessService` (services/access-service.ts), never by ad-hoc checks.
//
// Project roles carry Harbor's numbers and permission sets, so that members and robots imported
// from Harbor keep exactly the rights they had.

export type ProjectRole = 1 | 2 | 3 | 4 | 5;

export const ROLE_NAMES: Record<ProjectRole, string> = {
  1: 'projectAdmin',
  2: 'developer',
  3: 'guest',
  4: 'maintainer',
  5: 'limitedGuest',
};

export function isProjectRole(value: unknown): value is ProjectRole {
  return value === 1 || value === 2 || value === 3 || value === 4 || value === 5;
}

export type Resource =
  | 'project'
  | 'member'
  | 'metadata'
  | 'log'
  | 'label'
  | 'quota'
  | 'repository'
  | 'tag-retention'
  | 'immutable-tag'
  | 'configuration'
  | 'robot'
  | 'notification-policy'
  | 'scan'
  | 'scanner'
  | 'artifact'
  | 'artifact-addition'
  | 'tag'
  | 'accessory'
  | 'artifact-label';

export type Action = 'create' | 'read' | 'update' | 'delete' | 'list' | 'pull' | 'push' | 'operate' | 'stop';

type Grants = Partial<Record<Resource, readonly Action[]>>;

const CRUDL: readonly Action[] = ['create', 'read', 'update', 'delete', 'list'];
const READ_LIST: readonly Action[] = ['read', 'list'];

// What a guest may do is the base of developer, maintainer and projectAdmin; each adds to it.
const GUEST: Grants = {
  project: ['read'],
  member: READ_LIST,
  log: ['list'],
  label: READ_LIST,
  quota: ['read'],
  repository: ['read', 'list', 'pull'],
  configuration: ['read'],
  robot: READ_LIST,
  scan: ['read'],
  scanner: ['read'],
  tag: ['list'],
  accessory: ['list'],
  artifact: READ_LIST,
  'artifact-addition': ['read'],
};

const DEVELOPER: Grants = {
  ...GUEST,
  repository: ['create', 'read', 'update', 'list', 'push', 'pull'],
  'tag-retention': [...CRUDL, 'operate'],
  artifact: ['create', 'read', 'list'],
  tag: ['list', 'create'],
  'artifact-label': ['create', 'delete'],
};

const MAINTAINER: Grants = {
  ...DEVELOPER,
  metadata: ['create', 'read', 'update', 'delete'],
  label: CRUDL,
  repository: [...CRUDL, 'push', 'pull'],
  'immutable-tag': ['create', 'update', 'delete', 'list'],
  'notification-policy': ['list'],
  scan: ['create', 'read', 'stop'],
  artifact: ['create', 'read', 'delete', 'list'],
  tag: ['list', 'create', 'delete'],
};

const PROJECT_ADMIN: Grants = {
  ...MAINTAINER,
  project: ['read', 'update', 'delete'],
  member: CRUDL,
  configuration: ['read', 'update'],
  robot: CRUDL,
  'notification-policy': CRUDL,
  scanner: ['read', 'create'],
};

const LIMITED_GUEST: Grants = {
  project: ['read'],
  quota: ['read'],
  repository: ['list', 'pull'],
  configuration: ['read'],
  scan: ['read'],
  scanner: ['read'],
  tag: ['list'],
  accessory: ['list'],
  artifact: READ_LIST,
  'artifact-addition': ['read'],
};

const ROLE_GRANTS: Record<ProjectRole, Grants> = {
  1: PROJECT_ADMIN,
  2: DEVELOPER,
  3: GUEST,
  4: MAINTAINER,
  5: LIMITED_GUEST,
};

/** What anyone, signed in or not, may do in a public project: read like a guest, never list members. */
export const PUBLIC_PROJECT_GRANTS: Grants = {
  project: ['read'],
  repository: ['read', 'list', 'pull'],
  tag: ['list'],
  accessory: ['list'],
  artifact: READ_LIST,
  'artifact-addition': ['read'],
  label: READ_LIST,
  scan: ['read'],
};

export function grantsAllow(grants: Grants, resource: Resource, action: Action): boolean {
  return grants[resource]?.includes(action) ?? false;
}

export function roleAllows(role: ProjectRole, resource: Resource, action: Action): boolean {
  return grantsAllow(ROLE_GRANTS[role], resource, action);
}

/** Every (resource, action) a role has, for /users/current/permissions. */
export function roleGrants(role: ProjectRole): Array<{ resource: Resource; action: Action }> {
  return Object.entries(ROLE_GRANTS[role]).flatMap(([resource, actions]) =>
    (actions ?? []).map((action) => ({ resource: resource as Resource, action })),
  );
}

/** The registry's three operations on a repository, as the token service's scopes name them. */
export type RegistryAction = 'pull' | 'push' | 'delete';

/** Maps a registry operation to the permission it needs (Harbor: delete needs repository delete). */
export function registryPermission(action: RegistryAction): { resource: Resource; action: Action } {
  return { resource: 'repository', action };
}

/**
 * Resources outside any project (Harbor's system scope), which no project role grants: only
 * system administrators act on them (AccessService.isSysadmin). `registry`: the endpoints of
 * remote registries that replication uses (/api/v2.0/registries, /replication/adapters).
 */
export type SystemResource =
  | 'registry'
  | 'jobservice-monitor'
  | 'replication-policy'
  | 'label'
  | 'garbage-collection'
  | 'purge-audit'
  | 'quota';

export const SYSTEM_RESOURCE_ACTIONS: Record<SystemResource, readonly Action[]> = {
  registry: CRUDL,
  // The job service's monitor (/jobservice/..., Harbor's resource of that name): see and stop jobs.
  'jobservice-monitor': ['list', 'stop'],
  // Replication policies (/replication/policies): Harbor's system resource of that name.
  'replication-policy': CRUDL,
  // Global labels (/labels with scope g): system administrators manage them.
  label: CRUDL,
  // Project storage quotas (/quotas): Harbor's system resource; project members read their own
  // project's quota through its summary.
  quota: ['read', 'list', 'update'],
  // The maintenance jobs of /system/gc and /system/purgeaudit (Harbor's resources of those names):
  // read history and logs, set the schedule, run and stop.
  'garbage-collection': ['create', 'read', 'update', 'list', 'stop'],
  'purge-audit': ['create', 'read', 'update', 'list', 'stop'],
};

/**
 * What every signed-in principal (user or robot, not anonymous and not a registry token) may do
 * on system resources: read and list global labels, which any project's artifacts may carry.
 */
export const SIGNED_IN_SYSTEM_GRANTS: Partial<Record<SystemResource, readonly Action[]>> = {
  label: READ_LIST,
};
