import type { ChangedFields, NewEvent, RobotEventData } from '../../domain/events.js';
import type { RobotChanges, RobotPermission, RobotRow } from '../../metadata/robots-table.js';
import type { Principal } from '../principal.js';
import { adminEvent } from './admin-events.js';

// The events of a robot change. An update that flips `disable` is recorded as the robot being
// disabled or enabled (what a reviewer looks for), anything else it changed as an update.

/** A project robot's project, from its name (`robot$project+name`); null for a system robot. */
function projectOf(robot: Pick<RobotRow, 'name' | 'level'>): string | null {
  if (robot.level !== 'project') return null;
  const plus = robot.name.indexOf('+');
  return plus > 0 ? robot.name.slice(robot.name.indexOf('$') + 1, plus) : null;
}

/** Permissions as a reviewer reads them: `project/app: push repository, pull repository`. */
function permissionsText(permissions: readonly RobotPermission[]): string {
  return permissions
    .map((p) => `${p.kind}/${p.namespace}: ${p.access.map((a) => `${a.action} ${a.resource}`).join(', ')}`)
    .join('; ');
}

function data(robot: RobotRow, changes?: ChangedFields): RobotEventData {
  return { name: robot.name, id: robot.id, level: robot.level, ...(changes && { changes }) };
}

export function robotCreated(principal: Principal, robot: RobotRow): NewEvent {
  const changes = {
    disabled: robot.disabled,
    duration: robot.duration,
    permissions: permissionsText(robot.permissions),
  };
  return adminEvent('robot.created', principal, projectOf(robot), data(robot, changes));
}

export function robotDeleted(principal: Principal, robot: RobotRow): NewEvent {
  return adminEvent('robot.deleted', principal, projectOf(robot), data(robot));
}

export function robotSecretRefreshed(principal: Principal, robot: RobotRow): NewEvent {
  return adminEvent('robot.secret_refreshed', principal, projectOf(robot), data(robot));
}

export function robotUpdated(principal: Principal, before: RobotRow, changes: RobotChanges): NewEvent[] {
  const events: NewEvent[] = [];
  const project = projectOf(before);
  if (changes.disabled !== undefined && changes.disabled !== before.disabled) {
    events.push(
      adminEvent(changes.disabled ? 'robot.disabled' : 'robot.enabled', principal, project, data(before)),
    );
  }
  const fields: ChangedFields = {};
  if (changes.description !== undefined && changes.description !== before.description) {
    fields.description = changes.description;
  }
  if (changes.duration !== undefined && changes.duration !== before.duration)
    fields.duration = changes.duration;
  if (changes.permissions !== undefined) fields.permissions = permissionsText(changes.permissions);
  if (Object.keys(fields).length > 0) {
    events.push(adminEvent('robot.updated', principal, project, data(before, fields)));
  }
  return events;
}
