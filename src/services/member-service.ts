import { isProjectRole, roleGrants, ROLE_NAMES, type ProjectRole } from '../domain/rbac.js';
import type { Database } from '../metadata/database.js';
import {
  deleteMember,
  findMember,
  listMembers,
  setUserMembership,
  updateMemberRole,
  userProjectRole,
  type MemberRow,
  type ProjectRow,
} from '../metadata/projects-table.js';
/** A membership as the members API shows it. */
export type { MemberRow } from '../metadata/projects-table.js';
import { findUserRecord, findUserRecordByName } from '../metadata/users-table.js';
import { recordEvent } from '../metadata/outbox-table.js';
import { accessFacts, type AccessService } from './access-service.js';
import { adminEvent } from './audit/admin-events.js';
import { callerExpiry } from './caller-expiry.js';
import { requireGrantsHeld } from './held-grants.js';
import type { Principal } from './principal.js';
import type { ProjectService } from './project-service.js';
import { ServiceError } from './service-error.js';

// Project membership: which user holds which role. Changes drop the cached access facts.
// No caller grants more than it holds: giving a role, or changing or removing a member's role,
// needs every grant of that role (a robot with member:create cannot make anyone projectAdmin),
// and since memberships never expire, a robot that does expire cannot grant one.

/**
 * Who becomes a member: a user by id (taken first when both are known, as Harbor does) or by
 * name, or a group (Harbor's UserGroup), which needs a group source Wharf does not have yet.
 */
export type NewMember =
  | { kind: 'user'; userId: number }
  | { kind: 'user'; username: string }
  | { kind: 'group'; groupId?: number; groupName?: string };

export class MemberService {
  constructor(
    private readonly db: Database,
    private readonly projects: ProjectService,
    private readonly access: AccessService,
  ) {}

  async list(
    principal: Principal,
    project: ProjectRow,
    nameLike: string | undefined,
    offset: number,
    limit: number,
  ) {
    await this.projects.require(principal, project, 'member', 'list');
    return listMembers(this.db, project.id, nameLike, offset, limit);
  }

  async get(principal: Principal, project: ProjectRow, memberId: number): Promise<MemberRow> {
    await this.projects.require(principal, project, 'member', 'read');
    const member = await findMember(this.db, project.id, memberId);
    if (!member) throw new ServiceError('not-found', `member ${memberId} not found in ${project.name}`);
    return member;
  }

  async add(principal: Principal, project: ProjectRow, roleId: number, member: NewMember): Promise<number> {
    await this.projects.require(principal, project, 'member', 'create');
    if (member.kind === 'group') {
      throw new ServiceError(
        'invalid',
        'group members need a group source (LDAP or OIDC), which is not configured',
      );
    }
    const granted = projectRole(roleId);
    await this.requireRoleHeld(principal, project, granted, 'grant');
    const target =
      'userId' in member
        ? await findUserRecord(this.db, member.userId)
        : await findUserRecordByName(this.db, member.username);
    if (!target) throw new ServiceError('not-found', 'member_user does not name an existing user');
    if ((await userProjectRole(this.db, target.id, project.id)) !== null) {
      throw new ServiceError('conflict', `${target.username} is already a member of ${project.name}`);
    }
    const id = await this.db.transaction(async (tx) => {
      const added = await setUserMembership(tx, project.id, target.id, granted);
      const event = { member: target.username, memberKind: 'user' as const, role: roleName(granted) };
      await recordEvent(tx, adminEvent('member.added', principal, project.name, event));
      return added;
    });
    await this.access.invalidateProject(project.name);
    return id;
  }

  async updateRole(
    principal: Principal,
    project: ProjectRow,
    memberId: number,
    roleId: number,
  ): Promise<void> {
    await this.projects.require(principal, project, 'member', 'update');
    const granted = projectRole(roleId);
    const member = await this.get(principal, project, memberId);
    await this.requireRoleHeld(principal, project, member.role, 'change the role of');
    await this.requireRoleHeld(principal, project, granted, 'grant');
    await this.db.transaction(async (tx) => {
      await updateMemberRole(tx, memberId, granted);
      const event = { ...memberOf(member), role: roleName(granted), previousRole: roleName(member.role) };
      await recordEvent(tx, adminEvent('member.role_changed', principal, project.name, event));
    });
    await this.access.invalidateProject(project.name);
  }

  async remove(principal: Principal, project: ProjectRow, memberId: number): Promise<void> {
    await this.projects.require(principal, project, 'member', 'delete');
    const member = await this.get(principal, project, memberId);
    await this.requireRoleHeld(principal, project, member.role, 'remove');
    await this.db.transaction(async (tx) => {
      await deleteMember(tx, memberId);
      const event = { ...memberOf(member), role: roleName(member.role) };
      await recordEvent(tx, adminEvent('member.removed', principal, project.name, event));
    });
    await this.access.invalidateProject(project.name);
  }

  /**
   * Refuses unless the caller holds every grant of the role in the project: granting it, or
   * changing or removing a member who has it (so a lesser caller cannot demote its betters).
   */
  private async requireRoleHeld(
    principal: Principal,
    project: ProjectRow,
    role: number,
    verb: 'grant' | 'change the role of' | 'remove',
  ): Promise<void> {
    // A stored role outside 1..5 carries no grants; only a system administrator manages it.
    if (!isProjectRole(role)) {
      if (this.access.isSysadmin(principal)) return;
      throw new ServiceError('forbidden', `cannot ${verb} a member with an unknown role`);
    }
    if (verb === 'grant' && (await callerExpiry(this.db, principal)) !== null) {
      throw new ServiceError(
        'forbidden',
        'a membership does not expire: credentials that do expire cannot grant one',
      );
    }
    const what = verb === 'grant' ? `grant the role ${ROLE_NAMES[role]}` : `${verb} a ${ROLE_NAMES[role]}`;
    await requireGrantsHeld(this.access, principal, accessFacts(project), roleGrants(role), what);
  }
}

/** The audit log names roles as Harbor does; a stored role outside 1..5 by its number. */
function roleName(role: number): string {
  return isProjectRole(role) ? ROLE_NAMES[role] : `role ${role}`;
}

function memberOf(member: MemberRow): { member: string; memberKind: 'user' | 'group' } {
  return { member: member.entity_name, memberKind: member.entity_type === 'g' ? 'group' : 'user' };
}

/** Harbor's project roles are 1..5; any other id names no role to grant. */
function projectRole(roleId: number): ProjectRole {
  if (!isProjectRole(roleId)) {
    throw new ServiceError(
      'invalid',
      `role_id ${roleId} names no project role: use 1 (projectAdmin) to 5 (limitedGuest)`,
    );
  }
  return roleId;
}
