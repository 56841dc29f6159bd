import type { LookupCache } from '../cluster/lookup-cache.js';
import {
  grantsAllow,
  isProjectRole,
  PUBLIC_PROJECT_GRANTS,
  roleAllows,
  roleGrants,
  SIGNED_IN_SYSTEM_GRANTS,
  SYSTEM_RESOURCE_ACTIONS,
  type Action,
  type Resource,
  type SystemResource,
} from '../domain/rbac.js';
import type { Queryable } from '../metadata/database.js';
import {
  findProjectById,
  findProjectByName,
  userProjectRole,
  type ProjectRow,
} from '../metadata/projects-table.js';
import { findRobotByName } from '../metadata/robots-table.js';
import { findUserByName } from '../metadata/users-table.js';
import { isSignedIn, type Principal, type RobotPrincipal, type UserPrincipal } from './principal.js';
import { robotDecision } from './robot-permissions.js';
import { ROBOT_PREFIX } from './auth-service.js';

/** The facts about a project that access decisions need, cached where the cache is exact. */
export interface ProjectAccessFacts {
  id: number;
  name: string;
  public: boolean;
}

/** The access facts of a project row. */
export function accessFacts(row: Pick<ProjectRow, 'id' | 'name' | 'public'>): ProjectAccessFacts {
  return { id: row.id, name: row.name, public: row.public };
}

export interface AccessOptions {
  /**
   * auth.require_signin: anonymous callers get nothing, not even what PUBLIC_PROJECT_GRANTS lets
   * anyone do in a public project. Off (Harbor's behaviour): public projects are readable by all.
   */
  requireSignIn: boolean;
}

const FACTS_KEY = 'facts';
const cacheScope = (project: string) => `project:${project}`;

/**
 * Every authorisation decision, for /v2, the token service and the management API, is made here
 * against the one permission table in domain/rbac.ts.
 */
export class AccessService {
  constructor(
    private readonly db: Queryable,
    private readonly cache: LookupCache,
    private readonly options: AccessOptions = { requireSignIn: false },
  ) {}

  /** Whether every request must be signed in (auth.require_signin). */
  get requireSignIn(): boolean {
    return this.options.requireSignIn;
  }

  /** May this caller read public projects as anyone may? Everyone, unless sign-in is required. */
  readsPublicProjects(principal: Principal): boolean {
    return !this.options.requireSignIn || isSignedIn(principal);
  }

  async project(name: string): Promise<ProjectAccessFacts | null> {
    const scope = cacheScope(name);
    const cached = this.cache.get<ProjectAccessFacts>(scope, FACTS_KEY);
    if (cached) return cached;
    const epoch = this.cache.epoch();
    const row: ProjectRow | null = await findProjectByName(this.db, name);
    if (!row) return null;
    const facts = accessFacts(row);
    this.cache.set(scope, FACTS_KEY, facts, epoch);
    return facts;
  }

  async projectById(id: number): Promise<ProjectAccessFacts | null> {
    const row = await findProjectById(this.db, id);
    return row ? accessFacts(row) : null;
  }

  /** Every (resource, action) a user holds in a project through membership. */
  async grantsOf(
    principal: Principal,
    project: ProjectAccessFacts,
  ): Promise<Array<{ resource: Resource; action: Action }>> {
    const role = await this.role(principal, project);
    return isProjectRole(role) ? roleGrants(role) : [];
  }

  /** Drops cached facts after the project, its metadata or its members changed. */
  async invalidateProject(name: string): Promise<void> {
    await this.cache.invalidate(cacheScope(name));
  }

  async role(principal: Principal, project: ProjectAccessFacts): Promise<number | null> {
    if (principal.kind !== 'user') return null;
    const scope = cacheScope(project.name);
    const key = `role:${principal.id}`;
    const cached = this.cache.get<{ role: number | null }>(scope, key);
    if (cached) return cached.role;
    const epoch = this.cache.epoch();
    const role = await userProjectRole(this.db, principal.id, project.id);
    this.cache.set(scope, key, { role }, epoch);
    return role;
  }

  /** May the principal do `action` on `resource` in the project? */
  async can(
    principal: Principal,
    project: ProjectAccessFacts,
    resource: Resource,
    action: Action,
  ): Promise<boolean> {
    // A robot's deny entry overrides everything else, public grants included (as Harbor).
    if (
      principal.kind === 'robot' &&
      robotDecision(principal.permissions, project.name, resource, action) === 'deny'
    )
      return false;
    if (
      project.public &&
      this.readsPublicProjects(principal) &&
      grantsAllow(PUBLIC_PROJECT_GRANTS, resource, action)
    )
      return true;
    switch (principal.kind) {
      case 'anonymous':
        return false;
      case 'user': {
        if (principal.sysadmin) return true;
        const role = await this.role(principal, project);
        return isProjectRole(role) && roleAllows(role, resource, action);
      }
      case 'robot':
        if (principal.projectId !== null && principal.projectId !== project.id) return false;
        return robotDecision(principal.permissions, project.name, resource, action) === 'allow';
      case 'token':
        // Tokens only ever speak for repositories; their claims were decided when issued.
        return false;
    }
  }

  /**
   * May the principal do `action` on a system resource? System administrators hold what
   * SYSTEM_RESOURCE_ACTIONS lists; other signed-in users and robots what SIGNED_IN_SYSTEM_GRANTS
   * lists; anonymous callers and registry tokens nothing.
   */
  canSystem(principal: Principal, resource: SystemResource, action: Action): boolean {
    if (this.isSysadmin(principal)) return SYSTEM_RESOURCE_ACTIONS[resource].includes(action);
    if (!isSignedIn(principal)) return false;
    if (principal.kind === 'robot' && robotDecision(principal.permissions, null, resource, action) === 'deny')
      return false;
    return SIGNED_IN_SYSTEM_GRANTS[resource]?.includes(action) ?? false;
  }

  /** System-level decisions (users, settings, system robots, catalog): sysadmins only. */
  isSysadmin(principal: Principal): boolean {
    return principal.kind === 'user' && principal.sysadmin;
  }

  /**
   * May the caller see that the project exists? Whoever may read it or pull from it. Anyone else
   * must get the same answer as for a project that does not exist (private means invisible).
   */
  async sees(principal: Principal, project: ProjectAccessFacts): Promise<boolean> {
    return (
      (await this.can(principal, project, 'project', 'read')) ||
      (await this.can(principal, project, 'repository', 'pull'))
    );
  }

  /**
   * The account a registry token names as its subject, as it is now: the user, or the robot
   * if still enabled and unexpired; null for anyone else (anonymous tokens, replication's own).
   * Used only to explain a refusal, never to grant what the token's claims do not list.
   */
  async accountOf(subject: string): Promise<UserPrincipal | RobotPrincipal | null> {
    if (subject === '') return null;
    // The same split of login names as AuthService makes: robots carry Harbor's prefix.
    if (!subject.startsWith(ROBOT_PREFIX)) {
      const user = await findUserByName(this.db, subject);
      return user && { kind: 'user', id: user.id, username: user.username, sysadmin: user.sysadmin };
    }
    const robot = await findRobotByName(this.db, subject);
    if (!robot || robot.disabled) return null;
    if (robot.expires_at && robot.expires_at.getTime() <= Date.now()) return null;
    return {
      kind: 'robot',
      id: robot.id,
      name: robot.name,
      projectId: robot.project_id,
      permissions: robot.permissions,
    };
  }

  /**
   * Whether the principal speaks for a system administrator, registry tokens included (a token
   * names its user as subject; the account is read now, so a demoted admin's token no longer does).
   */
  async speaksForSysadmin(principal: Principal): Promise<boolean> {
    if (principal.kind === 'user') return principal.sysadmin;
    if (principal.kind !== 'token') return false;
    return (await findUserByName(this.db, principal.subject))?.sysadmin === true;
  }
}
