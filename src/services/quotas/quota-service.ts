import type { Action } from '../../domain/rbac.js';
import { isValidStorageLimit } from '../../domain/quota.js';
import type { Database } from '../../metadata/database.js';
import {
  findQuota,
  listQuotas,
  setProjectQuotaHard,
  type QuotaListQuery,
  type QuotaRow,
} from '../../metadata/quotas-table.js';
import { recordEvent } from '../../metadata/outbox-table.js';
import type { AccessService } from '../access-service.js';
import { adminEvent } from '../audit/admin-events.js';
import { refusalFor, type Principal } from '../principal.js';
import { ServiceError } from '../service-error.js';

// Harbor's /quotas: every project's storage limit and usage, a system resource (administrators
// read and change them; a project's members see theirs in the project summary). Usage is never
// set here: the database keeps it with the links (migration 020).

export type { QuotaRow } from '../../metadata/quotas-table.js';

export interface QuotaListFilter {
  /** Harbor's reference: only "project" names quotas. */
  reference?: string;
  /** Harbor's reference_id: the project's id, as text. */
  referenceId?: string;
  /** Harbor's sort: hard.storage, used.storage, creation_time, update_time; "-" for descending. */
  sort?: string;
}

const SORT_KEYS: Readonly<Record<string, QuotaListQuery['sort']>> = {
  'hard.storage': 'hard',
  'used.storage': 'used',
  creation_time: 'created_at',
  update_time: 'updated_at',
  id: 'id',
};

/** The list query of a filter; null when the filter names nothing that can have a quota. */
function listQuery(filter: QuotaListFilter): QuotaListQuery | null {
  if (filter.reference !== undefined && filter.reference !== 'project') return null;
  let projectId: number | null = null;
  if (filter.referenceId !== undefined) {
    if (!/^\d{1,15}$/.test(filter.referenceId)) return null;
    projectId = Number(filter.referenceId);
  }
  const descending = filter.sort?.startsWith('-') ?? false;
  const key = filter.sort === undefined ? 'id' : filter.sort.slice(descending ? 1 : 0);
  const sort = Object.hasOwn(SORT_KEYS, key) ? SORT_KEYS[key] : undefined;
  if (sort === undefined) {
    throw new ServiceError(
      'invalid',
      `sort must be one of ${Object.keys(SORT_KEYS).join(', ')}, or one with "-"`,
    );
  }
  return { projectId, sort, descending };
}

/** Refuses a storage limit Harbor would refuse, naming the field the caller sent. */
export function requireValidStorageLimit(value: number, field: string): void {
  if (!isValidStorageLimit(value)) {
    throw new ServiceError('invalid', `${field} must be -1 (unlimited) or a positive number of bytes`);
  }
}

export class QuotaService {
  constructor(
    private readonly db: Database,
    private readonly access: AccessService,
  ) {}

  private require(principal: Principal, action: Action): void {
    if (!this.access.canSystem(principal, 'quota', action)) {
      throw new ServiceError(refusalFor(principal), 'only system administrators may see or change quotas');
    }
  }

  async list(
    principal: Principal,
    filter: QuotaListFilter,
    offset: number,
    limit: number,
  ): Promise<{ items: QuotaRow[]; total: number }> {
    this.require(principal, 'list');
    const query = listQuery(filter);
    if (!query) return { items: [], total: 0 };
    return listQuotas(this.db, query, offset, limit);
  }

  async get(principal: Principal, id: number): Promise<QuotaRow> {
    this.require(principal, 'read');
    const quota = await findQuota(this.db, id);
    if (!quota) throw new ServiceError('not-found', `quota ${id} not found`);
    return quota;
  }

  /**
   * Sets a quota's storage limit. A limit below the current usage is accepted, as Harbor does:
   * nothing is removed, further writes that add bytes are refused until usage is under it.
   */
  async update(principal: Principal, id: number, hard: Record<string, number>): Promise<void> {
    this.require(principal, 'update');
    const unknown = Object.keys(hard).filter((name) => name !== 'storage');
    if (unknown.length > 0) throw new ServiceError('invalid', `resource ${unknown[0]} is not supported`);
    const storage = hard.storage;
    if (storage === undefined) throw new ServiceError('invalid', 'hard.storage is required');
    requireValidStorageLimit(storage, 'hard.storage');
    const quota = await findQuota(this.db, id);
    if (!quota) throw new ServiceError('not-found', `quota ${id} not found`);
    // Audited as the project's change, as a storage_limit given to PUT /projects is.
    const change = { name: quota.project_name, id: quota.project_id, changes: { storage_limit: storage } };
    await this.db.transaction(async (tx) => {
      await setProjectQuotaHard(tx, quota.project_id, storage);
      await recordEvent(tx, adminEvent('project.updated', principal, quota.project_name, change));
    });
  }
}
