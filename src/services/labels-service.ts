import {
  isLabelScope,
  labelColorProblem,
  labelDescriptionProblem,
  labelNameProblem,
  type LabelScope,
} from '../domain/labels.js';
import type { Action } from '../domain/rbac.js';
import type { Database } from '../metadata/database.js';
import {
  attachLabel,
  deleteLabel,
  detachLabel,
  findLabel,
  insertLabel,
  listLabels,
  updateLabel,
  type LabelFields,
  type LabelRow,
} from '../metadata/labels-table.js';
/** A label as the labels API shows it. */
export type { LabelRow } from '../metadata/labels-table.js';
import { recordEvent } from '../metadata/outbox-table.js';
import type { AccessService } from './access-service.js';
import { artifactLabelEvent, labelEvent } from './audit/admin-events.js';
import type { CatalogApiService, ResolvedArtifact } from './catalog-api-service.js';
import { type Principal, requireSignedIn } from './principal.js';
import type { ProjectService } from './project-service.js';
import { ServiceError } from './service-error.js';

// Harbor's labels: global ones (scope 'g') are a system resource that system administrators
// manage and every signed-in caller may read; project ones (scope 'p') follow the project's
// `label` permissions. Attaching and detaching is the project's `artifact-label` permission, and
// a project label only ever goes on artifacts of its own project.

/** The label fields of a request after type checks at the edge; content is checked here. */
export interface LabelInput {
  name?: string | undefined;
  description?: string | undefined;
  color?: string | undefined;
  scope?: string | undefined;
  projectId?: number | undefined;
}

/** An artifact as the API's path names it: project, repository without the project, tag or digest. */
export interface ArtifactRef {
  project: string;
  repository: string;
  reference: string;
}

export interface LabelQuery {
  scope: string | undefined;
  projectId: number | undefined;
  name?: string | undefined;
  nameLike?: string | undefined;
}

function checked(fields: LabelFields): LabelFields {
  const problem =
    labelNameProblem(fields.name) ??
    labelColorProblem(fields.color) ??
    labelDescriptionProblem(fields.description);
  if (problem) throw new ServiceError('invalid', problem);
  return fields;
}

function scopeOf(value: string | undefined): LabelScope {
  if (!isLabelScope(value)) {
    throw new ServiceError('invalid', `invalid scope "${value ?? ''}": use g (global) or p (project)`);
  }
  return value;
}

function requiredProjectId(projectId: number | undefined): number {
  if (projectId === undefined || projectId <= 0) {
    throw new ServiceError('invalid', 'project_id is required for project labels (scope p)');
  }
  return projectId;
}

export class LabelService {
  constructor(
    private readonly db: Database,
    private readonly projects: ProjectService,
    private readonly access: AccessService,
    private readonly catalog: CatalogApiService,
  ) {}

  async list(
    principal: Principal,
    query: LabelQuery,
    offset: number,
    limit: number,
  ): Promise<{ items: LabelRow[]; total: number }> {
    const scope = scopeOf(query.scope);
    const projectId = scope === 'p' ? requiredProjectId(query.projectId) : undefined;
    await this.requireAccess(principal, scope, projectId ?? null, 'list');
    return listLabels(
      this.db,
      {
        scope,
        ...(projectId !== undefined && { projectId }),
        ...(query.name !== undefined && { name: query.name }),
        ...(query.nameLike !== undefined && { nameLike: query.nameLike }),
      },
      offset,
      limit,
    );
  }

  async get(principal: Principal, id: number): Promise<LabelRow> {
    const label = await this.find(principal, id);
    await this.requireAccess(principal, label.scope, label.project_id, 'read');
    return label;
  }

  async create(principal: Principal, input: LabelInput): Promise<LabelRow> {
    const scope = scopeOf(input.scope);
    const projectId = scope === 'p' ? requiredProjectId(input.projectId) : null;
    await this.requireAccess(principal, scope, projectId, 'create');
    const fields = checked({
      name: input.name ?? '',
      description: input.description ?? '',
      color: input.color ?? '',
    });
    const created = await this.db.transaction(async (tx) => {
      const row = await insertLabel(tx, { ...fields, scope, projectId });
      if (row) await recordEvent(tx, labelEvent('label.created', principal, row, fields));
      return row;
    });
    if (!created) throw new ServiceError('conflict', `label ${fields.name} already exists`);
    return created;
  }

  /** Changes name, description and colour (fields left out keep their value); never the scope. */
  async update(principal: Principal, id: number, input: LabelInput): Promise<LabelRow> {
    const label = await this.find(principal, id);
    await this.requireAccess(principal, label.scope, label.project_id, 'update');
    const fields = checked({
      name: input.name ?? label.name,
      description: input.description ?? label.description,
      color: input.color ?? label.color,
    });
    const updated = await this.db.transaction(async (tx) => {
      const row = await updateLabel(tx, id, fields);
      if (row && row !== 'conflict')
        await recordEvent(tx, labelEvent('label.updated', principal, row, fields));
      return row;
    });
    if (updated === 'conflict') throw new ServiceError('conflict', `label ${fields.name} already exists`);
    if (!updated) throw new ServiceError('not-found', `label ${id} not found`);
    return updated;
  }

  /** Deletes the label and takes it off every artifact. */
  async delete(principal: Principal, id: number): Promise<void> {
    const label = await this.find(principal, id);
    await this.requireAccess(principal, label.scope, label.project_id, 'delete');
    const deleted = await this.db.transaction(async (tx) => {
      if (!(await deleteLabel(tx, id))) return false;
      await recordEvent(tx, labelEvent('label.deleted', principal, label));
      return true;
    });
    if (!deleted) throw new ServiceError('not-found', `label ${id} not found`);
  }

  async attach(principal: Principal, ref: ArtifactRef, labelId: number): Promise<void> {
    const resolved = await this.artifact(principal, ref, 'create');
    const { project, artifact } = resolved;
    const label = await findLabel(this.db, labelId);
    if (!label) throw new ServiceError('not-found', `label ${labelId} not found`);
    if (label.scope === 'p' && label.project_id !== project.id) {
      throw new ServiceError(
        'invalid',
        `label ${labelId} belongs to another project; only global labels and labels of ${project.name} go on its artifacts`,
      );
    }
    // Thrown inside the transaction: a refused attach records no event.
    await this.db.transaction(async (tx) => {
      const outcome = await attachLabel(tx, artifact.id, labelId);
      if (outcome === 'present') {
        throw new ServiceError('conflict', `label ${labelId} is already on artifact ${artifact.digest}`);
      }
      if (outcome === 'gone') {
        throw new ServiceError(
          'not-found',
          `label ${labelId} or artifact ${artifact.digest} was just deleted`,
        );
      }
      await recordEvent(tx, artifactLabelEvent('artifact.label_attached', principal, resolved, label));
    });
  }

  async detach(principal: Principal, ref: ArtifactRef, labelId: number): Promise<void> {
    const resolved = await this.artifact(principal, ref, 'delete');
    const { artifact } = resolved;
    const label = await findLabel(this.db, labelId);
    await this.db.transaction(async (tx) => {
      if (!label || !(await detachLabel(tx, artifact.id, labelId))) {
        throw new ServiceError('not-found', `label ${labelId} is not on artifact ${artifact.digest}`);
      }
      await recordEvent(tx, artifactLabelEvent('artifact.label_detached', principal, resolved, label));
    });
  }

  /** The artifact, for a caller holding `artifact-label` `action` in its project. */
  private artifact(principal: Principal, ref: ArtifactRef, action: Action): Promise<ResolvedArtifact> {
    return this.catalog.resolveArtifact(
      principal,
      ref.project,
      ref.repository,
      ref.reference,
      'artifact-label',
      action,
    );
  }

  /**
   * The label, or NOT_FOUND; anonymous callers learn nothing about which ids exist, and a label of
   * a project the caller may not see is as absent as a missing one (ids do not reveal projects).
   */
  private async find(principal: Principal, id: number): Promise<LabelRow> {
    const label = await findLabel(this.db, id);
    if (
      label &&
      (label.scope !== 'p' || (await this.projects.findVisible(principal, String(label.project_id))))
    ) {
      return label;
    }
    requireSignedIn(principal);
    throw new ServiceError('not-found', `label ${id} not found`);
  }

  private async requireAccess(
    principal: Principal,
    scope: LabelScope,
    projectId: number | null,
    action: Action,
  ): Promise<void> {
    if (scope === 'p') {
      // visible() answers 404 for a project id that does not exist, 401/403 for one not visible.
      const project = await this.projects.visible(principal, String(projectId));
      await this.projects.require(principal, project, 'label', action);
      return;
    }
    if (this.access.canSystem(principal, 'label', action)) return;
    requireSignedIn(principal);
    throw new ServiceError('forbidden', `${action} of global labels is for system administrators`);
  }
}
