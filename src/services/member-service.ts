import { isProjectRole } from '../domain/rbac.js';
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
import { findUserRecord, findUserRecordByName } from '../metadata/users-table.js';
import type { AccessService } from './access-service.js';
import type { Principal } from './principal.js';
import type { ProjectService } from './project-service.js';
import { ServiceError } from './service-error.js';

// Project membership: which user holds which role. Changes drop the cached access facts.

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

  async add(
    principal: Principal,
    project: ProjectRow,
    role: unknown,
    user: { id?: number; username?: string },
  ): Promise<number> {
    await this.projects.require(principal, project, 'member', 'create');
    if (!isProjectRole(role))
      throw new ServiceError('invalid', 'role_id must be 1 (projectAdmin) to 5 (limitedGuest)');
    const target =
      user.id !== undefined
        ? await findUserRecord(this.db, user.id)
        : user.username !== undefined
          ? await findUserRecordByName(this.db, user.username)
          : null;
    if (!target) throw new ServiceError('not-found', 'member_user does not name an existing user');
    if ((await userProjectRole(this.db, target.id, project.id)) !== null) {
      throw new ServiceError('conflict', `${target.username} is already a member of ${project.name}`);
    }
    const id = await setUserMembership(this.db, project.id, target.id, role);
    await this.access.invalidateProject(project.name);
    return id;
  }

  async updateRole(
    principal: Principal,
    project: ProjectRow,
    memberId: number,
    role: unknown,
  ): Promise<void> {
    await this.projects.require(principal, project, 'member', 'update');
    if (!isProjectRole(role))
      throw new ServiceError('invalid', 'role_id must be 1 (projectAdmin) to 5 (limitedGuest)');
    await this.get(principal, project, memberId);
    await updateMemberRole(this.db, memberId, role);
    await this.access.invalidateProject(project.name);
  }

  async remove(principal: Principal, project: ProjectRow, memberId: number): Promise<void> {
    await this.projects.require(principal, project, 'member', 'delete');
    await this.get(principal, project, memberId);
    await deleteMember(this.db, memberId);
    await this.access.invalidateProject(project.name);
  }
}
