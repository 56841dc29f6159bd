import { checkRules, RetentionRuleError, type RetentionRule } from '../../domain/retention-rules.js';
import type { JobService } from '../../jobs/job-service.js';
import { cronError } from '../../jobs/schedules.js';
import type { Database } from '../../metadata/database.js';
import {
  deleteProjectMetadata,
  projectMetadata,
  setProjectMetadata,
  type ProjectRow,
} from '../../metadata/projects-table.js';
import {
  deleteRetentionPolicy,
  findRetentionPolicy,
  insertRetentionPolicy,
  updateRetentionPolicy,
  type RetentionPolicyRow,
  type StoredRetentionPolicy,
} from '../../metadata/retention-policies-table.js';
import type { Principal } from '../principal.js';
import type { ProjectService } from '../project-service.js';
import { ServiceError } from '../service-error.js';

// Tag retention policies (Harbor's /retentions): one per project, linked by the project's
// `retention_id` metadata, which creating a policy sets and deleting it removes, as Harbor does.
// Who may do what is the role table's `tag-retention` resource (developers and up, as Harbor).
// A policy with a cron has a schedule on the job service (type retention.schedule, vendor id =
// the policy's id) that starts an execution at each fire time.

export const SCHEDULE_JOB = 'retention.schedule';
export const RETENTION_ID_KEY = 'retention_id';

/** A policy as Harbor's API carries it (the HTTP edge checked the shape). */
export interface RetentionPolicyInput {
  algorithm: string;
  rules: RetentionRule[];
  trigger: { kind: string; settings: { cron: string }; references?: Record<string, unknown> };
  scope: { level: string; ref: number };
}

export interface RetentionPolicyView extends RetentionPolicyInput {
  id: number;
}

export type RetentionAction = 'create' | 'read' | 'update' | 'delete' | 'list';

/** A stored policy with its project, as the execution service needs it. */
export interface LoadedPolicy {
  row: RetentionPolicyRow;
  project: ProjectRow;
  rules: RetentionRule[];
}

export class RetentionPolicyService {
  constructor(
    private readonly db: Database,
    private readonly projects: ProjectService,
    private readonly jobs: JobService,
  ) {}

  /** The policy and its project, after checking the caller may act on it; 404 when absent. */
  async load(principal: Principal, id: number, action: RetentionAction): Promise<LoadedPolicy> {
    const loaded = await this.find(id);
    if (!loaded) throw new ServiceError('not-found', `retention policy ${id} not found`);
    await this.projects.require(principal, loaded.project, 'tag-retention', action);
    return loaded;
  }

  /** The policy and its project, without a caller (the scheduled run). */
  async find(id: number): Promise<LoadedPolicy | null> {
    const row = await findRetentionPolicy(this.db, id);
    if (!row) return null;
    const project = await this.projects.find(String(row.project_id));
    if (!project) return null;
    return { row, project, rules: row.policy.rules as RetentionRule[] };
  }

  view(loaded: LoadedPolicy): RetentionPolicyView {
    const { policy } = loaded.row;
    return {
      id: loaded.row.id,
      algorithm: policy.algorithm,
      rules: loaded.rules,
      trigger: policy.trigger,
      scope: { level: 'project', ref: loaded.project.id },
    };
  }

  async create(principal: Principal, input: RetentionPolicyInput): Promise<number> {
    const project = await this.scopeProject(input);
    await this.projects.require(principal, project, 'tag-retention', 'create');
    const stored = checkedPolicy(input);
    const old = (await projectMetadata(this.db, project.id))[RETENTION_ID_KEY];
    if (old !== undefined && old !== '' && old !== '0') {
      throw new ServiceError('invalid', `project ${project.id} already has retention policy ${old}`);
    }
    const row = await this.db.transaction(async (tx) => {
      const inserted = await insertRetentionPolicy(tx, project.id, stored);
      if (!inserted)
        throw new ServiceError('invalid', `project ${project.id} already has a retention policy`);
      await setProjectMetadata(tx, project.id, { [RETENTION_ID_KEY]: String(inserted.id) });
      return inserted;
    });
    await this.schedule(row.id, stored.trigger.settings.cron);
    return row.id;
  }

  async update(principal: Principal, id: number, input: RetentionPolicyInput): Promise<void> {
    const loaded = await this.load(principal, id, 'update');
    // Harbor: the body's scope must name the policy's own project.
    if (input.scope.level !== 'project' || input.scope.ref !== loaded.project.id) {
      throw new ServiceError(
        'not-found',
        `the retention policy id ${id} does not match project ${input.scope.ref}`,
      );
    }
    const stored = checkedPolicy(input);
    await updateRetentionPolicy(this.db, id, stored);
    await this.schedule(id, stored.trigger.settings.cron);
  }

  async delete(principal: Principal, id: number): Promise<void> {
    const loaded = await this.load(principal, id, 'delete');
    await this.db.transaction(async (tx) => {
      await deleteRetentionPolicy(tx, id);
      const linked = (await projectMetadata(tx, loaded.project.id))[RETENTION_ID_KEY];
      if (linked === String(id)) await deleteProjectMetadata(tx, loaded.project.id, RETENTION_ID_KEY);
    });
    await this.jobs.removeSchedule(SCHEDULE_JOB, id);
  }

  private async scopeProject(input: RetentionPolicyInput): Promise<ProjectRow> {
    if (input.scope.level !== 'project') {
      throw new ServiceError('invalid', `scope ${input.scope.level} is not supported; only "project"`);
    }
    const project = input.scope.ref > 0 ? await this.projects.find(String(input.scope.ref)) : null;
    if (!project) throw new ServiceError('invalid', `invalid Project id ${input.scope.ref}`);
    return project;
  }

  /** The schedule follows the trigger's cron; an empty cron means manual runs only. */
  private async schedule(policyId: number, cron: string): Promise<void> {
    if (cron.trim() === '') await this.jobs.removeSchedule(SCHEDULE_JOB, policyId);
    else
      await this.jobs.saveSchedule({ type: SCHEDULE_JOB, vendorId: policyId, cron, payload: { policyId } });
  }
}

/** Harbor's checks of a policy body: algorithm, trigger, cron and rules (400, or 409 for twins). */
function checkedPolicy(input: RetentionPolicyInput): StoredRetentionPolicy {
  if (input.algorithm !== 'or') throw new ServiceError('invalid', 'algorithm must be "or"');
  if (input.trigger.kind !== 'Schedule') throw new ServiceError('invalid', 'trigger.kind must be "Schedule"');
  const cron = input.trigger.settings.cron;
  const problem = cron.trim() === '' ? null : cronError(cron);
  if (problem !== null)
    throw new ServiceError('invalid', `trigger.settings.cron "${cron}" is invalid: ${problem}`);
  let conflict;
  try {
    conflict = checkRules(input.rules);
  } catch (err) {
    if (err instanceof RetentionRuleError) throw new ServiceError('invalid', err.message);
    throw err;
  }
  if (conflict) {
    const [later, earlier] = conflict.duplicate;
    throw new ServiceError('conflict', `rule ${later} is conflict with rule ${earlier}`);
  }
  return {
    algorithm: 'or',
    rules: input.rules.map((r, i) => ({ ...r, id: i + 1 })),
    trigger: input.trigger,
  };
}
