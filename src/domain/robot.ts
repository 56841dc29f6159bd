import type { Action, Resource } from './rbac.js';

// A robot account's level and permissions as the robot service takes them: the types the API's
// edge checks Harbor's JSON into, so the service only applies rules (who may grant what, which
// namespaces a level allows), never shapes.

export type RobotLevel = 'system' | 'project';

export const ROBOT_LEVELS = ['system', 'project'] as const satisfies readonly RobotLevel[];

/** Every Resource of rbac.ts, at run time; the type check below keeps the list complete. */
export const ROBOT_RESOURCES = [
  'project',
  'member',
  'metadata',
  'log',
  'label',
  'quota',
  'repository',
  'tag-retention',
  'immutable-tag',
  'configuration',
  'robot',
  'notification-policy',
  'scan',
  'scanner',
  'artifact',
  'artifact-addition',
  'tag',
  'accessory',
  'artifact-label',
] as const satisfies readonly Resource[];

/** Every Action of rbac.ts, at run time. */
export const ROBOT_ACTIONS = [
  'create',
  'read',
  'update',
  'delete',
  'list',
  'pull',
  'push',
  'operate',
  'stop',
] as const satisfies readonly Action[];

type Complete<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : false;
const resourcesComplete: Complete<Resource, (typeof ROBOT_RESOURCES)[number]> = true;
const actionsComplete: Complete<Action, (typeof ROBOT_ACTIONS)[number]> = true;
void resourcesComplete;
void actionsComplete;

/** Harbor's permission kinds: `project` (a namespace) and `system` (registry-wide resources). */
export type RobotPermissionKind = 'project' | 'system';

export const ROBOT_PERMISSION_KINDS = ['project', 'system'] as const satisfies readonly RobotPermissionKind[];

/** One (resource, action) a robot is given, or denied: a deny overrides every allow. */
export interface RobotAccessGrant {
  resource: Resource;
  action: Action;
  effect: 'allow' | 'deny';
}

/** The permissions of a robot in one namespace: a project name, or `*` for every project. */
export interface RobotPermissionGrant {
  kind: RobotPermissionKind;
  namespace: string;
  access: RobotAccessGrant[];
}
