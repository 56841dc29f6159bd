import {
  REPOSITORY_DECORATIONS,
  selectorProblems,
  TAG_DECORATIONS,
  type Selector,
} from '../domain/tag-selectors.js';
import type { Database } from '../metadata/database.js';
import {
  countImmutableRules,
  deleteImmutableRule,
  findImmutableRule,
  insertImmutableRule,
  listImmutableRules,
  lockProjectRules,
  updateImmutableRule,
  type ImmutableRuleFields,
  type ImmutableRuleRow,
} from '../metadata/immutable-rules-table.js';
import { recordEvent } from '../metadata/outbox-table.js';
import type { ProjectRow } from '../metadata/projects-table.js';
import { adminEvent } from './audit/admin-events.js';
import type { Principal } from './principal.js';
import type { ProjectService } from './project-service.js';
import { ServiceError } from './service-error.js';

// Tag immutability rules of a project (Harbor's /projects/{p}/immutabletagrules): who may manage
// them is the role table's immutable-tag resource (maintainers and project admins, as Harbor).
// Rules are checked here, stored as Harbor's JSON, and applied by the artifact core
// (services/artifacts/immutable-tags.ts) to every write whoever makes it.

/** Harbor's portal stops at 15 rules per project; Wharf holds the API to the same. */
export const MAX_RULES_PER_PROJECT = 15;
export const IMMUTABLE_ACTION = 'immutable';
export const IMMUTABLE_TEMPLATE = 'immutable_template';

/** A rule as the API gives it (absent fields take Harbor's defaults, or keep their value on update). */
export interface ImmutableRuleInput {
  id?: number | undefined;
  disabled?: boolean | undefined;
  priority?: number | undefined;
  action?: string | undefined;
  template?: string | undefined;
  params?: Record<string, unknown> | undefined;
  tagSelectors?: Selector[] | undefined;
  scopeSelectors?: Record<string, Selector[]> | undefined;
}

/** A stored rule as the API shows it: its fields (less the uniqueness key) and where it belongs. */
export interface ImmutableRuleView extends Omit<ImmutableRuleFields, 'ruleKey'> {
  id: number;
  projectId: number;
}

type ImmutableAction = 'create' | 'update' | 'delete' | 'list';

export class ImmutableRuleService {
  constructor(
    private readonly db: Database,
    private readonly projects: ProjectService,
  ) {}

  async list(
    principal: Principal,
    project: ProjectRow,
    offset: number,
    limit: number,
  ): Promise<{ items: ImmutableRuleView[]; total: number }> {
    await this.require(principal, project, 'list');
    const { items, total } = await listImmutableRules(this.db, project.id, offset, limit);
    return { items: items.map(viewOf), total };
  }

  async create(
    principal: Principal,
    project: ProjectRow,
    input: ImmutableRuleInput,
  ): Promise<ImmutableRuleView> {
    await this.require(principal, project, 'create');
    const fields = validRule(input);
    const row = await this.db.transaction(async (tx) => {
      await lockProjectRules(tx, project.id);
      if ((await countImmutableRules(tx, project.id)) >= MAX_RULES_PER_PROJECT) {
        throw new ServiceError(
          'invalid',
          `project ${project.name} has ${MAX_RULES_PER_PROJECT} immutability rules already, the most it may have`,
        );
      }
      const created = await insertImmutableRule(tx, project.id, fields);
      if (!created) throw duplicate(project);
      await recordEvent(
        tx,
        adminEvent('immutable_rule.created', principal, project.name, {
          name: ruleName(created),
          id: created.id,
        }),
      );
      return created;
    });
    return viewOf(row);
  }

  /** Replaces the rule; a field left out keeps its value (Harbor's clients send the whole rule). */
  async update(
    principal: Principal,
    project: ProjectRow,
    id: number,
    input: ImmutableRuleInput,
  ): Promise<void> {
    await this.require(principal, project, 'update');
    if (input.id !== undefined && input.id !== id) {
      throw new ServiceError('invalid', `the rule's id ${input.id} is not the id in the path (${id})`);
    }
    const current = viewOf(await this.row(project, id));
    const fields = validRule({
      disabled: input.disabled ?? current.disabled,
      priority: input.priority ?? current.priority,
      action: input.action ?? current.action,
      template: input.template ?? current.template,
      params: input.params ?? current.params,
      tagSelectors: input.tagSelectors ?? current.tagSelectors,
      scopeSelectors: input.scopeSelectors ?? current.scopeSelectors,
    });
    await this.db.transaction(async (tx) => {
      await lockProjectRules(tx, project.id);
      const updated = await updateImmutableRule(tx, project.id, id, fields);
      if (updated === 'conflict') throw duplicate(project);
      if (!updated) throw notFound(project, id);
      const changes = { disabled: fields.disabled, rule: ruleName(updated) };
      await recordEvent(
        tx,
        adminEvent('immutable_rule.updated', principal, project.name, {
          name: ruleName(updated),
          id,
          changes,
        }),
      );
    });
  }

  async delete(principal: Principal, project: ProjectRow, id: number): Promise<void> {
    await this.require(principal, project, 'delete');
    const row = await this.row(project, id);
    await this.db.transaction(async (tx) => {
      if (!(await deleteImmutableRule(tx, project.id, id))) throw notFound(project, id);
      await recordEvent(
        tx,
        adminEvent('immutable_rule.deleted', principal, project.name, { name: ruleName(row), id }),
      );
    });
  }

  private require(principal: Principal, project: ProjectRow, action: ImmutableAction): Promise<void> {
    return this.projects.require(principal, project, 'immutable-tag', action);
  }

  /** The rule, or 404 (a rule of another project is as absent as a missing one, as in Harbor). */
  private async row(project: ProjectRow, id: number): Promise<ImmutableRuleRow> {
    const row = await findImmutableRule(this.db, project.id, id);
    if (!row) throw notFound(project, id);
    return row;
  }
}

function notFound(project: ProjectRow, id: number): ServiceError {
  return new ServiceError('not-found', `immutability rule ${id} not found in project ${project.name}`);
}

function duplicate(project: ProjectRow): ServiceError {
  return new ServiceError('conflict', `project ${project.name} has the same immutability rule already`);
}

function viewOf(row: ImmutableRuleRow): ImmutableRuleView {
  return {
    id: row.id,
    projectId: row.project_id,
    disabled: row.disabled,
    priority: row.priority,
    action: row.action,
    template: row.template,
    params: row.params,
    tagSelectors: row.tag_selectors,
    scopeSelectors: row.scope_selectors,
  };
}

/** How the audit log names a rule: its selectors, as a reader would say them. */
function ruleName(row: ImmutableRuleRow): string {
  const say = (s: Selector) => `${s.decoration} ${s.pattern}`;
  const repos = (row.scope_selectors.repository ?? []).map(say).join(' and ');
  return `repositories ${repos}, tags ${row.tag_selectors.map(say).join(' and ')}`;
}

/** The rule's fields when valid; else a 400 listing every problem. */
export function validRule(input: ImmutableRuleInput): ImmutableRuleFields {
  const problems: string[] = [];
  const action = input.action ?? IMMUTABLE_ACTION;
  if (action !== IMMUTABLE_ACTION) problems.push(`action must be "${IMMUTABLE_ACTION}"`);
  const template = input.template ?? IMMUTABLE_TEMPLATE;
  if (template !== IMMUTABLE_TEMPLATE) problems.push(`template must be "${IMMUTABLE_TEMPLATE}"`);
  const tagSelectors = input.tagSelectors ?? [];
  if (tagSelectors.length === 0) problems.push('tag_selectors must name at least one selector');
  tagSelectors.forEach((s, i) =>
    problems.push(...selectorProblems(s, TAG_DECORATIONS, `tag_selectors[${i}]`)),
  );
  const scopes = input.scopeSelectors ?? {};
  for (const key of Object.keys(scopes)) {
    if (key !== 'repository') problems.push(`scope_selectors.${key} is not a scope (only "repository" is)`);
  }
  const repositorySelectors = scopes.repository ?? [];
  if (repositorySelectors.length === 0)
    problems.push('scope_selectors.repository must name at least one selector');
  repositorySelectors.forEach((s, i) =>
    problems.push(...selectorProblems(s, REPOSITORY_DECORATIONS, `scope_selectors.repository[${i}]`)),
  );
  if (problems.length > 0)
    throw new ServiceError('invalid', `invalid immutability rule: ${problems.join('; ')}`);
  const keyOf = (s: Selector) => ({ kind: s.kind, decoration: s.decoration, pattern: s.pattern });
  return {
    disabled: input.disabled ?? false,
    priority: input.priority ?? 0,
    action,
    template,
    params: input.params ?? {},
    tagSelectors,
    scopeSelectors: { repository: repositorySelectors },
    ruleKey: JSON.stringify({ tags: tagSelectors.map(keyOf), repositories: repositorySelectors.map(keyOf) }),
  };
}
