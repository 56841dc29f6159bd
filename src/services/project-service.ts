import type { Database } from '../metadata/database.js';
import {
  deleteProject,
  deleteProjectMetadata,
  findProjectById,
  findProjectByName,
  insertProject,
  projectMetadata,
  projectRepositoryCount,
  setProjectMetadata,
  setUserMembership,
  type ProjectRow,
} from '../metadata/projects-table.js';
import { recordEvent } from '../metadata/outbox-table.js';
import { findProjectQuota, setProjectQuotaHard } from '../metadata/quotas-table.js';
import {
  listVisibleProjects,
  projectMemberRoleCounts,
  projectStorageBytes,
} from '../metadata/project-queries.js';
import { accessFacts, type AccessService } from './access-service.js';
import { adminEvent } from './audit/admin-events.js';
import { ServiceError } from './service-error.js';
import {
  checkMetadataEnforceable,
  checkProjectRequestEnforceable,
  type ProjectRequestSettings,
} from './project-settings.js';
import { isSignedIn, type Principal } from './principal.js';
import { requireValidStorageLimit } from './quotas/quota-service.js';

// Projects: the unit of ownership, visibility and membership. Names follow Harbor's rule.

const PROJECT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const KNOWN_METADATA = new Set([
  'public',
  'enable_content_trust',
  'enable_content_trust_cosign',
  'prevent_vul',
  'severity',
  'auto_scan',
  'auto_sbom_generation',
  'reuse_sys_cve_allowlist',
  'retention_id',
  'proxy_speed_kb',
]);

/**
 * Settings whose change needs more than the route's own permission, on every route that writes
 * metadata (PUT /projects and /metadatas alike): visibility is the project administrator's, as
 * PUT /projects has it, so a maintainer's metadata:update cannot make a private project public.
 */
const GUARDED_METADATA: Readonly<Record<string, { resource: 'project'; action: 'update' }>> = {
  public: { resource: 'project', action: 'update' },
};

/** Harbor's project metadata: text values by key ("public": "true", "severity": "low" ...). */
export type ProjectMetadata = Record<string, string>;

/** A project to create: its name, metadata and Harbor's settings for features Wharf lacks. */
export interface NewProject extends ProjectRequestSettings {
  name: string;
  metadata: ProjectMetadata;
}

/** PUT /projects: metadata to set and the same settings, which must still ask for nothing. */
export interface ProjectUpdate extends ProjectRequestSettings {
  metadata: ProjectMetadata;
}

export interface ProjectView extends ProjectRow {
  metadata: Record<string, string>;
  repoCount: number;
  currentUserRole: number | null;
}

export interface ProjectSummary {
  repoCount: number;
  roleCounts: Record<number, number>;
  /** The project's usage as its quota counts it, and its limit (-1: unlimited). */
  storageBytes: number;
  storageLimit: number;
}

export interface ProjectListFilter {
  name?: string;
  /** Substring match on the name (Harbor's q=name=~x). */
  nameLike?: string;
  public?: boolean;
}

export class ProjectService {
  constructor(
    private readonly db: Database,
    private readonly access: AccessService,
    private readonly creationRestriction: () => Promise<'adminonly' | 'everyone'>,
  ) {}

  validateName(name: string): void {
    if (name.length < 1 || name.length > 255 || !PROJECT_NAME.test(name)) {
      throw new ServiceError(
        'invalid',
        'project names are 1 to 255 lowercase letters, digits and separators (. _ -) between them',
      );
    }
  }

  validateMetadata(metadata: ProjectMetadata): ProjectMetadata {
    const out: ProjectMetadata = {};
    for (const [key, text] of Object.entries(metadata)) {
      if (!KNOWN_METADATA.has(key)) throw new ServiceError('invalid', `unknown project metadata "${key}"`);
      if (
        ['public', 'enable_content_trust', 'prevent_vul', 'auto_scan', 'reuse_sys_cve_allowlist'].includes(
          key,
        )
      ) {
        if (text !== 'true' && text !== 'false')
          throw new ServiceError('invalid', `${key} must be "true" or "false"`);
      }
      // A setting for a feature Wharf lacks is refused unless it says "off" (project-settings.ts).
      checkMetadataEnforceable(key, text);
      out[key] = text;
    }
    return out;
  }

  async create(principal: Principal, input: NewProject): Promise<ProjectRow> {
    if (principal.kind !== 'user') throw new ServiceError('unauthorized', 'sign in to create a project');
    if (!principal.sysadmin && (await this.creationRestriction()) === 'adminonly') {
      throw new ServiceError('forbidden', 'only system administrators may create projects');
    }
    const { name } = input;
    this.validateName(name);
    checkProjectRequestEnforceable(input);
    const storageLimit = this.storageLimitOf(principal, input.storageLimit);
    const values = { public: 'false', ...this.validateMetadata(input.metadata) };
    const project = await this.db.transaction(async (tx) => {
      const row = await insertProject(tx, name, principal.id, values);
      if (!row) return null;
      // The creator administers the project, as in Harbor.
      await setUserMembership(tx, row.id, principal.id, 1);
      // Without a limit of its own the project keeps the system default (migration 020's trigger).
      if (storageLimit !== undefined) await setProjectQuotaHard(tx, row.id, storageLimit);
      await recordEvent(
        tx,
        adminEvent('project.created', principal, name, { name, id: row.id, changes: values }),
      );
      return row;
    });
    if (!project) throw new ServiceError('conflict', `project ${name} already exists`);
    await this.access.invalidateProject(name);
    return project;
  }

  /**
   * A replication destination's project, made when missing as Harbor's adapters do: with the
   * source project's visibility and no owning user (administrators manage it). True when created.
   */
  async ensureForReplication(name: string, isPublic: boolean): Promise<boolean> {
    this.validateName(name);
    // One transaction: the project never exists without its visibility.
    const row = await this.db.transaction((tx) =>
      insertProject(tx, name, null, { public: String(isPublic) }),
    );
    if (!row) return false;
    await this.access.invalidateProject(name);
    return true;
  }

  /** Looks a project up by name, or by id when `ref` is all digits and not forced to be a name. */
  async find(ref: string, forceName = false): Promise<ProjectRow | null> {
    if (!forceName && /^\d+$/.test(ref)) {
      // An id beyond any row's (and PostgreSQL's bigint) names no project, rather than failing SQL.
      return Number.isSafeInteger(Number(ref)) ? findProjectById(this.db, Number(ref)) : null;
    }
    return findProjectByName(this.db, ref);
  }

  /** The project if the principal may see it, else null: a private one is as absent as a missing one. */
  async findVisible(principal: Principal, ref: string, forceName = false): Promise<ProjectRow | null> {
    const project = await this.find(ref, forceName);
    return project && (await this.access.sees(principal, accessFacts(project))) ? project : null;
  }

  /**
   * The project if the principal may see it. One it may not see gets exactly the answer a missing
   * one gets, by name or by id (private means invisible): anonymous callers are asked to sign in,
   * signed-in ones told it is not found; the message repeats the reference given, never the name.
   */
  async visible(principal: Principal, ref: string, forceName = false): Promise<ProjectRow> {
    const project = await this.findVisible(principal, ref, forceName);
    if (project) return project;
    if (!isSignedIn(principal)) {
      throw new ServiceError('unauthorized', `project ${ref} not found, or sign in to see it`);
    }
    throw new ServiceError('not-found', `project ${ref} not found`);
  }

  async require(
    principal: Principal,
    project: ProjectRow,
    resource: Parameters<AccessService['can']>[2],
    action: Parameters<AccessService['can']>[3],
  ): Promise<void> {
    const facts = accessFacts(project);
    if (!(await this.access.can(principal, facts, resource, action))) {
      if (!isSignedIn(principal)) throw new ServiceError('unauthorized', 'authentication required');
      throw new ServiceError('forbidden', `${action} of ${resource} in ${project.name} is not allowed`);
    }
  }

  async view(principal: Principal, project: ProjectRow): Promise<ProjectView> {
    const facts = accessFacts(project);
    return {
      ...project,
      metadata: await projectMetadata(this.db, project.id),
      repoCount: await projectRepositoryCount(this.db, project.id),
      currentUserRole: await this.access.role(principal, facts),
    };
  }

  /** Projects the principal may see, one page, with the total. */
  async list(
    principal: Principal,
    filter: ProjectListFilter,
    offset: number,
    limit: number,
  ): Promise<{ items: ProjectRow[]; total: number }> {
    if (!this.access.readsPublicProjects(principal)) {
      throw new ServiceError('unauthorized', 'this registry requires sign-in (auth.require_signin)');
    }
    const query = {
      seeAll: this.access.isSysadmin(principal),
      userId: principal.kind === 'user' ? principal.id : -1,
      robotProjectId: principal.kind === 'robot' ? principal.projectId : null,
      name: filter.name ?? null,
      nameLike: filter.nameLike ?? null,
      public: filter.public ?? null,
    };
    return listVisibleProjects(this.db, query, offset, limit);
  }

  /** PUT /projects: the project administrator's change of metadata (visibility included). */
  async update(principal: Principal, project: ProjectRow, changes: ProjectUpdate): Promise<void> {
    await this.require(principal, project, 'project', 'update');
    await this.requireGuardedMetadata(principal, project, Object.keys(changes.metadata));
    checkProjectRequestEnforceable(changes);
    const storageLimit = this.storageLimitOf(principal, changes.storageLimit);
    await this.writeMetadata(principal, project, this.validateMetadata(changes.metadata), storageLimit);
  }

  /**
   * The storage limit a project request sets. Only system administrators set limits (quotas are
   * Harbor's system resource); others may send Harbor's form default -1, which sets nothing.
   */
  private storageLimitOf(principal: Principal, value: number | undefined): number | undefined {
    if (value === undefined) return undefined;
    requireValidStorageLimit(value, 'storage_limit');
    if (this.access.isSysadmin(principal)) return value;
    if (value === -1) return undefined;
    throw new ServiceError('forbidden', 'only system administrators may set a storage limit (storage_limit)');
  }

  async setMetadata(principal: Principal, project: ProjectRow, metadata: ProjectMetadata): Promise<void> {
    await this.require(principal, project, 'metadata', 'update');
    await this.requireGuardedMetadata(principal, project, Object.keys(metadata));
    await this.writeMetadata(principal, project, this.validateMetadata(metadata));
  }

  /** Writes metadata (and a storage limit) and records the change (project.updated) in one transaction. */
  private async writeMetadata(
    principal: Principal,
    project: ProjectRow,
    values: ProjectMetadata,
    storageLimit?: number,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await setProjectMetadata(tx, project.id, values);
      if (storageLimit !== undefined) await setProjectQuotaHard(tx, project.id, storageLimit);
      const changes = { ...values, ...(storageLimit !== undefined && { storage_limit: storageLimit }) };
      const event = { name: project.name, id: project.id, changes };
      await recordEvent(tx, adminEvent('project.updated', principal, project.name, event));
    });
    await this.access.invalidateProject(project.name);
  }

  /** The one check of GUARDED_METADATA, for every route that writes project metadata. */
  private async requireGuardedMetadata(
    principal: Principal,
    project: ProjectRow,
    keys: string[],
  ): Promise<void> {
    for (const key of keys) {
      const guard = Object.hasOwn(GUARDED_METADATA, key) ? GUARDED_METADATA[key] : undefined;
      if (guard) await this.require(principal, project, guard.resource, guard.action);
    }
  }

  async deleteMetadata(principal: Principal, project: ProjectRow, name: string): Promise<void> {
    await this.require(principal, project, 'metadata', 'delete');
    await this.requireGuardedMetadata(principal, project, [name]);
    if (name === 'public') throw new ServiceError('invalid', 'public cannot be deleted; set it to "false"');
    const deleted = await this.db.transaction(async (tx) => {
      if (!(await deleteProjectMetadata(tx, project.id, name))) return false;
      const event = { name: project.name, id: project.id, changes: { [name]: null } };
      await recordEvent(tx, adminEvent('project.updated', principal, project.name, event));
      return true;
    });
    if (!deleted) throw new ServiceError('not-found', `metadata ${name} not found`);
    await this.access.invalidateProject(project.name);
  }

  /** Repository count, members per role, stored bytes and storage limit of a project (its summary). */
  async summary(principal: Principal, project: ProjectRow): Promise<ProjectSummary> {
    await this.require(principal, project, 'project', 'read');
    const quota = await findProjectQuota(this.db, project.id);
    return {
      repoCount: await projectRepositoryCount(this.db, project.id),
      roleCounts: await projectMemberRoleCounts(this.db, project.id),
      storageBytes: quota?.used ?? (await projectStorageBytes(this.db, project.id)),
      storageLimit: quota?.hard ?? -1,
    };
  }

  /** Deletes an empty project; a project that still holds repositories is refused (412). */
  async delete(principal: Principal, project: ProjectRow): Promise<void> {
    await this.require(principal, project, 'project', 'delete');
    if ((await projectRepositoryCount(this.db, project.id)) > 0) {
      throw new ServiceError(
        'precondition',
        `project ${project.name} still contains repositories; delete them first`,
      );
    }
    await this.db.transaction(async (tx) => {
      await deleteProject(tx, project.id);
      const event = { name: project.name, id: project.id };
      await recordEvent(tx, adminEvent('project.deleted', principal, project.name, event));
    });
    await this.access.invalidateProject(project.name);
  }
}
