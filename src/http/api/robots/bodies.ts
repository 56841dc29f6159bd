import { z } from 'zod';
import {
  ROBOT_ACTIONS,
  ROBOT_LEVELS,
  ROBOT_PERMISSION_KINDS,
  ROBOT_RESOURCES,
  type RobotPermissionGrant,
} from '../../../domain/robot.js';
import type { RobotCreateInput, RobotUpdateInput } from '../../../services/robot-service.js';
import { jsonBody, optionalBoolean, optionalString, requiredString } from '../schemas.js';

// Harbor's RobotCreate and Robot bodies, checked into the robot service's typed input: the level,
// the duration and the permission list (kind, namespace, access entries of known resources and
// actions) are shapes checked here; the service applies the rules (which level allows which
// namespaces, what the caller may grant, how long a robot may live).

/** Bounds on a body's size, not rules: no real robot comes near them. */
const MAX_PERMISSIONS = 100;
const MAX_ACCESS_ENTRIES = 200;

const LEVEL_MESSAGE = 'level must be "system" or "project"';
const DURATION_MESSAGE = 'duration must be a whole number of days, or -1 for never';

const level = z.enum(ROBOT_LEVELS, { error: LEVEL_MESSAGE });

const duration = z
  .number({ error: DURATION_MESSAGE })
  .int(DURATION_MESSAGE)
  .min(-1, DURATION_MESSAGE)
  .nullish()
  .transform((v) => v ?? undefined);

// The messages below leave out their field's name: the 400 prefixes them with the full path
// ("permissions.0.access.1.action: must be one of ..."), which says which entry is wrong.
const accessEntry = z.object(
  {
    resource: z.enum(ROBOT_RESOURCES, { error: `must be one of ${ROBOT_RESOURCES.join(', ')}` }),
    action: z.enum(ROBOT_ACTIONS, { error: `must be one of ${ROBOT_ACTIONS.join(', ')}` }),
    // Harbor's default effect is allow; an empty string is what its older clients send.
    effect: z
      .union([z.enum(['allow', 'deny']), z.literal('')], { error: 'must be "allow" or "deny"' })
      .nullish()
      .transform((v): 'allow' | 'deny' => (v === 'deny' ? 'deny' : 'allow')),
  },
  { error: 'each entry must be an object {resource, action, effect}' },
);

const permission = z.object(
  {
    kind: z.enum(ROBOT_PERMISSION_KINDS, { error: 'must be "project" or "system"' }),
    namespace: z.string({ error: 'must be a project name or "*"' }).min(1, 'must be a project name or "*"'),
    access: z
      .array(accessEntry, { error: 'must list at least one resource and action' })
      .min(1, 'must list at least one resource and action')
      .max(MAX_ACCESS_ENTRIES, `must list at most ${MAX_ACCESS_ENTRIES} entries`),
  },
  { error: 'each permission must be an object {kind, namespace, access}' },
);

const permissions = z
  .array(permission, { error: 'permissions must list at least one project permission' })
  .min(1, 'permissions must list at least one project permission')
  .max(MAX_PERMISSIONS, `permissions must list at most ${MAX_PERMISSIONS} entries`);

export const createRobotBody = jsonBody({
  name: requiredString('name'),
  secret: optionalString('secret'),
  description: optionalString('description'),
  level,
  duration,
  disable: optionalBoolean('disable'),
  permissions,
});

export const updateRobotBody = jsonBody({
  name: optionalString('name'),
  description: optionalString('description'),
  level: level.nullish().transform((v) => v ?? undefined),
  duration,
  disable: optionalBoolean('disable'),
  permissions: permissions.nullish().transform((v): RobotPermissionGrant[] | undefined => v ?? undefined),
});

export const refreshSecretBody = jsonBody({ secret: optionalString('secret') }).nullish();

/** POST /robots as the service's input; an empty secret asks for a generated one, as in Harbor. */
export function robotCreateInput(body: z.infer<typeof createRobotBody>): RobotCreateInput {
  return {
    name: body.name,
    description: body.description ?? '',
    level: body.level,
    ...(body.duration !== undefined && { durationDays: body.duration }),
    disable: body.disable ?? false,
    ...(body.secret !== undefined && body.secret !== '' && { secret: body.secret }),
    permissions: body.permissions,
  };
}

/** PUT /robots/{id} as the service's input: only the fields given. */
export function robotUpdateInput(body: z.infer<typeof updateRobotBody>): RobotUpdateInput {
  return {
    ...(body.name !== undefined && { name: body.name }),
    ...(body.level !== undefined && { level: body.level }),
    ...(body.description !== undefined && { description: body.description }),
    ...(body.duration !== undefined && { durationDays: body.duration }),
    ...(body.disable !== undefined && { disable: body.disable }),
    ...(body.permissions !== undefined && { permissions: body.permissions }),
  };
}
