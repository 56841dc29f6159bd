import type { RobotLevel, RobotPermissionGrant } from '../domain/robot.js';
import type { Database } from '../metadata/database.js';
import { findProjectByName, type ProjectRow } from '../metadata/projects-table.js';
import {
  deleteRobot,
  findRobotById,
  insertRobot,
  listRobots,
  updateRobot,
  type RobotChanges,
  type RobotListFilter,
  type RobotPermission,
  type RobotRow,
} from '../metadata/robots-table.js';
/** A robot account as the robots API shows it. */
export type { RobotRow } from '../metadata/robots-table.js';
import { recordEvent, recordEvents } from '../metadata/outbox-table.js';
import { accessFacts, type AccessService } from './access-service.js';
import { robotCreated, robotDeleted, robotSecretRefreshed, robotUpdated } from './audit/robot-events.js';
import { ROBOT_PREFIX, type AuthService } from './auth-service.js';
import { callerExpiry, endsLater } from './caller-expiry.js';
import { requireGrantsHeld, type Grant } from './held-grants.js';
import { hashPassword } from './passwords.js';
import { generateRobotSecret, requireValidSecret } from './robot-secret.js';
import { type Principal, principalName, requireSignedIn } from './principal.js';
import type { ProjectService } from './project-service.js';
import { ServiceError } from './service-error.js';

// Robot accounts, Harbor v2 style: a name, a secret shown once, a lifetime in days and a list of
// project permissions. System-level robots (any namespace, or '*') are made by system admins;
// project-level robots by whoever may create robots in that one project, and never with more
// rights than their creator holds there. The secret is stored only as a hash.
//
// No caller gains rights through a robot: what it creates or changes holds no more than the
// caller holds in that project and ends no later than the caller's own credentials (a robot's
// expiry; users do not expire), and it may update, refresh or delete only robots that hold no
// more and end no later than itself (else resetting a stronger robot's secret would take it over).
//
// Inputs arrive typed (the API's edge checks Harbor's JSON into domain/robot.ts's types); what
// is checked here are the rules: names, lifetimes, which namespaces a level allows, who may grant.

/** Harbor's rule for robot names: no '+' or '$', which the full name uses as separators. */
const ROBOT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** Harbor's default robot lifetime (robot_token_duration) for duration 0. */
const DEFAULT_DURATION_DAYS = 30;
/** Far beyond any real lifetime, and well inside PostgreSQL's timestamp range. */
const MAX_DURATION_DAYS = 365_000;
const DAY_MS = 86_400_000;

export interface RobotCreateInput {
  /** The short name; the full name adds `robot$` and, for a project robot, `<project>+`. */
  name: string;
  description: string;
  level: RobotLevel;
  /** Lifetime in days: -1 never expires; 0 or absent is the default lifetime (30 days). */
  durationDays?: number;
  disable: boolean;
  /** Caller-chosen secret; a random one is generated when absent. */
  secret?: string;
  permissions: RobotPermissionGrant[];
}

export interface RobotUpdateInput {
  /** If given, must be the robot's name (names are immutable). */
  name?: string;
  /** If given, must be the robot's level. */
  level?: RobotLevel;
  description?: string;
  /** Lifetime in days from the robot's creation: -1 never expires, 0 the default lifetime. */
  durationDays?: number;
  disable?: boolean;
  permissions?: RobotPermissionGrant[];
}

export interface RobotQuery {
  level?: RobotLevel;
  projectId?: number;
  name?: string;
  nameLike?: string;
}

/** Days as stored: -1 never expires, 0 (or none given) the default lifetime, else 1 or more. */
function lifetimeDays(days: number | undefined): number {
  if (days === undefined || days === 0) return DEFAULT_DURATION_DAYS;
  if (!Number.isInteger(days) || days < -1) {
    throw new ServiceError('invalid', 'duration must be a whole number of days, or -1 for never');
  }
  if (days > MAX_DURATION_DAYS) {
    throw new ServiceError('invalid', `duration is at most ${MAX_DURATION_DAYS} days; use -1 for never`);
  }
  return days;
}

/**
 * The permission list's own rules; namespaces are checked against projects later. Harbor's
 * `system` kind (registry-wide resources for a robot) is not built yet: refused, not ignored.
 */
function requireSupportedPermissions(permissions: readonly RobotPermissionGrant[]): void {
  if (permissions.length === 0) {
    throw new ServiceError('invalid', 'permissions must list at least one project permission');
  }
  permissions.forEach((p, i) => {
    if (p.kind !== 'project') {
      throw new ServiceError(
        'invalid',
        `permissions[${i}]: Wharf does not support system-wide robot permissions yet; kind must be "project"`,
      );
    }
    if (p.access.length === 0) {
      throw new ServiceError(
        'invalid',
        `permissions[${i}]: access must list at least one resource and action`,
      );
    }
  });
}

export class RobotService {
  constructor(
    private readonly db: Database,
    private readonly projects: ProjectService,
    private readonly access: AccessService,
    private readonly auth: AuthService,
  ) {}

  async create(principal: Principal, input: RobotCreateInput): Promise<{ robot: RobotRow; secret: string }> {
    requireSignedIn(principal);
    if (!ROBOT_NAME.test(input.name) || input.name.length > 255) {
      throw new ServiceError(
        'invalid',
        'robot names are lowercase letters, digits and separators (. _ -) between them',
      );
    }
    const { level, permissions } = input;
    const duration = lifetimeDays(input.durationDays);
    requireSupportedPermissions(permissions);
    requireValidSecret(input.secret);
    const project = await this.authorisePermissions(principal, level, permissions, 'create');
    await this.requireLifetimeWithinCaller(principal, new Date(), duration);
    const fullName =
      level === 'project' && project
        ? `${ROBOT_PREFIX}${project.name}+${input.name}`
        : `${ROBOT_PREFIX}${input.name}`;
    const secret = input.secret ?? generateRobotSecret();
    const secretHash = await hashPassword(secret);
    const robot = await this.db.transaction(async (tx) => {
      const row = await insertRobot(tx, {
        name: fullName,
        description: input.description,
        secretHash,
        level,
        projectId: project?.id ?? null,
        duration,
        disabled: input.disable,
        creator: principalName(principal),
        permissions,
      });
      if (row) await recordEvent(tx, robotCreated(principal, row));
      return row;
    });
    if (!robot) throw new ServiceError('conflict', `robot ${fullName} already exists`);
    this.auth.forgetVerified();
    return { robot, secret };
  }

  /** One page of robots the principal may list: all of them for system admins, else one project's. */
  async list(
    principal: Principal,
    query: RobotQuery,
    offset: number,
    limit: number,
  ): Promise<{ items: RobotRow[]; total: number }> {
    requireSignedIn(principal);
    const level = query.level;
    const filter: RobotListFilter = {
      ...(query.name !== undefined && { name: query.name }),
      ...(query.nameLike !== undefined && { nameLike: query.nameLike }),
    };
    if (level === 'project' || query.projectId !== undefined) {
      if (level === 'system') throw new ServiceError('invalid', 'system robots belong to no project');
      if (query.projectId === undefined) {
        throw new ServiceError(
          'invalid',
          'listing project robots needs ProjectID (q=Level=project,ProjectID=<id>)',
        );
      }
      // A project the caller may not see answers as a missing one would (no probing by id).
      const project = await this.projects.visible(principal, String(query.projectId));
      await this.projects.require(principal, project, 'robot', 'list');
      return listRobots(this.db, { ...filter, level: 'project', projectId: project.id }, offset, limit);
    }
    this.requireSysadmin(principal);
    return listRobots(this.db, { ...filter, ...(level && { level }) }, offset, limit);
  }

  async get(principal: Principal, id: number): Promise<RobotRow> {
    const robot = await this.find(principal, id);
    await this.requireRobotAccess(principal, robot, 'read', 'read');
    return robot;
  }

  async update(principal: Principal, id: number, input: RobotUpdateInput): Promise<RobotRow> {
    const robot = await this.find(principal, id);
    await this.requireRobotAccess(principal, robot, 'update', 'change');
    if (input.name !== undefined && input.name !== robot.name && input.name !== shortName(robot)) {
      throw new ServiceError('invalid', 'the name of a robot cannot be changed');
    }
    if (input.level !== undefined && input.level !== robot.level) {
      throw new ServiceError('invalid', 'the level of a robot cannot be changed');
    }
    const changes: RobotChanges = {
      ...(input.description !== undefined && { description: input.description }),
      ...(input.disable !== undefined && { disabled: input.disable }),
    };
    if (input.durationDays !== undefined && input.durationDays !== robot.duration) {
      changes.duration = lifetimeDays(input.durationDays);
      // updateRobot counts the days from the robot's creation.
      await this.requireLifetimeWithinCaller(principal, robot.created_at, changes.duration);
    }
    if (input.permissions !== undefined) {
      const { permissions } = input;
      requireSupportedPermissions(permissions);
      const project = await this.authorisePermissions(principal, robot.level, permissions, 'update');
      if (robot.level === 'project' && project?.id !== robot.project_id) {
        throw new ServiceError('invalid', 'a project robot keeps the project it was created in');
      }
      changes.permissions = permissions;
    }
    const updated = await this.db.transaction(async (tx) => {
      const row = await updateRobot(tx, robot.id, changes);
      if (row) await recordEvents(tx, robotUpdated(principal, robot, changes));
      return row;
    });
    this.auth.forgetVerified();
    if (!updated) throw new ServiceError('not-found', `robot ${id} not found`);
    return updated;
  }

  async delete(principal: Principal, id: number): Promise<void> {
    const robot = await this.find(principal, id);
    await this.requireRobotAccess(principal, robot, 'delete', 'delete');
    await this.db.transaction(async (tx) => {
      await deleteRobot(tx, robot.id);
      await recordEvent(tx, robotDeleted(principal, robot));
    });
    this.auth.forgetVerified();
  }

  /**
   * Replaces the secret. Without one a random secret is made and returned (shown this once);
   * a caller-chosen secret is not echoed back (null), as in Harbor.
   */
  async refreshSecret(principal: Principal, id: number, secret: string | undefined): Promise<string | null> {
    const robot = await this.find(principal, id);
    await this.requireRobotAccess(principal, robot, 'update', 'reset the secret of');
    requireValidSecret(secret);
    const next = secret ?? generateRobotSecret();
    const secretHash = await hashPassword(next);
    const updated = await this.db.transaction(async (tx) => {
      const row = await updateRobot(tx, robot.id, { secretHash });
      if (row) await recordEvent(tx, robotSecretRefreshed(principal, row));
      return row;
    });
    this.auth.forgetVerified();
    if (!updated) throw new ServiceError('not-found', `robot ${id} not found`);
    return secret === undefined ? next : null;
  }

  private requireSysadmin(principal: Principal): void {
    requireSignedIn(principal);
    if (!this.access.isSysadmin(principal)) {
      throw new ServiceError('forbidden', 'only system administrators may manage system robots');
    }
  }

  private async find(principal: Principal, id: number): Promise<RobotRow> {
    requireSignedIn(principal);
    const robot = await findRobotById(this.db, id);
    if (!robot) throw new ServiceError('not-found', `robot ${id} not found`);
    return robot;
  }

  /**
   * System robots: system admins; project robots: `robot:<action>` in their project, and for
   * anything but reading, a robot that holds no more than the caller and ends no later.
   */
  private async requireRobotAccess(
    principal: Principal,
    robot: RobotRow,
    action: 'read' | 'update' | 'delete',
    verb: string,
  ): Promise<void> {
    if (robot.level === 'system' || robot.project_id === null) {
      this.requireSysadmin(principal);
      return;
    }
    // A robot of a project the caller may not see is as absent as a robot that does not exist.
    const project = await this.projects.findVisible(principal, String(robot.project_id));
    if (!project) {
      requireSignedIn(principal);
      throw new ServiceError('not-found', `robot ${robot.id} not found`);
    }
    await this.projects.require(principal, project, 'robot', action);
    if (action === 'read' || this.access.isSysadmin(principal)) return;
    await requireGrantsHeld(
      this.access,
      principal,
      accessFacts(project),
      allowedGrants(robot.permissions),
      `${verb} ${robot.name}`,
    );
    const callerEnd = await callerExpiry(this.db, principal);
    if (endsLater(robot.expires_at, callerEnd)) {
      throw new ServiceError(
        'forbidden',
        `cannot ${verb} ${robot.name}: it is valid longer than your own credentials`,
      );
    }
  }

  /** Refuses a lifetime (days from `start`, -1 never) that would end after the caller's own. */
  private async requireLifetimeWithinCaller(principal: Principal, start: Date, days: number): Promise<void> {
    const callerEnd = await callerExpiry(this.db, principal);
    if (callerEnd === null) return;
    const end = days === -1 ? null : new Date(start.getTime() + days * DAY_MS);
    if (endsLater(end, callerEnd)) {
      const most = Math.floor((callerEnd.getTime() - start.getTime()) / DAY_MS);
      throw new ServiceError(
        'forbidden',
        `a robot cannot be valid longer than your own credentials (until ${callerEnd.toISOString()}): ` +
          (most >= 1 ? `duration is at most ${most} days` : 'no duration fits'),
      );
    }
  }

  /**
   * May the principal give a robot of this level these permissions? Returns the project of a
   * project-level robot. Every namespace must name an existing project (or be '*', system level
   * only); a non-admin may grant only what they hold in the project themselves.
   */
  private async authorisePermissions(
    principal: Principal,
    level: RobotLevel,
    permissions: readonly RobotPermissionGrant[],
    action: 'create' | 'update',
  ): Promise<ProjectRow | null> {
    if (level === 'system') {
      this.requireSysadmin(principal);
      for (const p of permissions) {
        if (p.namespace !== '*' && !(await findProjectByName(this.db, p.namespace))) {
          throw new ServiceError('invalid', `namespace ${p.namespace} is not a project`);
        }
      }
      return null;
    }
    const [only, ...rest] = permissions;
    if (!only || rest.length > 0) {
      throw new ServiceError('invalid', 'a project robot has exactly one permission, for its project');
    }
    if (only.namespace === '*') {
      throw new ServiceError('invalid', 'namespace "*" (every project) needs a system-level robot');
    }
    const project = await this.projects.visible(principal, only.namespace, true);
    await this.projects.require(principal, project, 'robot', action);
    if (!this.access.isSysadmin(principal)) {
      await requireGrantsHeld(
        this.access,
        principal,
        accessFacts(project),
        allowedGrants([only]),
        'give a robot these permissions',
      );
    }
    return project;
  }
}

/** The name as given at creation: robot$proj+name → name, robot$name → name. */
export function shortName(robot: Pick<RobotRow, 'name' | 'level'>): string {
  const bare = robot.name.startsWith(ROBOT_PREFIX) ? robot.name.slice(ROBOT_PREFIX.length) : robot.name;
  const plus = bare.indexOf('+');
  return robot.level === 'project' && plus >= 0 ? bare.slice(plus + 1) : bare;
}

/** Every (resource, action) a robot is allowed; deny entries only take rights away. */
function allowedGrants(permissions: RobotPermission[]): Grant[] {
  return permissions.flatMap((p) =>
    p.access
      .filter((a) => (a.effect ?? 'allow') !== 'deny')
      .map((a) => ({ resource: a.resource, action: a.action })),
  );
}
