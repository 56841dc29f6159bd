import { ApiError } from '../api-error.js';
import { parseHarborQuery } from '../query.js';
import {
  isHarborJobStatus,
  type HistoryFilter,
  type RunSort,
  type RunSortColumn,
} from '../../../services/maintenance/maintenance-jobs.js';

// The `q` and `sort` of a maintenance history (GET /system/gc, /system/purgeaudit) in Harbor's
// words: the fields of GCHistory / ExecHistory, and the names of Harbor's execution columns
// (status, trigger, start_time, end_time) its portal and clients also send.

const SORT_KEYS: Record<string, RunSortColumn> = {
  id: 'job_id',
  creation_time: 'created_at',
  start_time: 'created_at',
  update_time: 'updated_at',
  end_time: 'updated_at',
  job_status: 'status',
  status: 'status',
  job_kind: 'trigger',
  trigger: 'trigger',
};

/** Newest first, as Harbor lists executions. */
const DEFAULT_SORT: RunSort = { column: 'created_at', descending: true };

/** Harbor's `sort`: one key, `-` first for descending. */
export function historySort(sort: string | undefined): RunSort {
  if (!sort) return DEFAULT_SORT;
  const descending = sort.startsWith('-');
  const key = descending ? sort.slice(1) : sort;
  const column = SORT_KEYS[key];
  if (!column) {
    throw new ApiError(
      'BAD_REQUEST',
      `sort by "${key.slice(0, 100)}" is not supported; use one of ${Object.keys(SORT_KEYS).join(', ')}`,
    );
  }
  return { column, descending };
}

function time(value: string | undefined, key: string): Date | undefined {
  if (value === undefined) return undefined;
  const asNumber = /^\d+$/.test(value) ? Number(value) * 1000 : NaN;
  const date = new Date(Number.isNaN(asNumber) ? value : asNumber);
  if (Number.isNaN(date.getTime()))
    throw new ApiError('BAD_REQUEST', `${key} must be a time: "${value.slice(0, 100)}"`);
  return date;
}

function exactOnly(q: ReturnType<typeof parseHarborQuery>): void {
  const [other] = [...Object.keys(q.fuzzy), ...Object.keys(q.anyOf), ...Object.keys(q.allOf)];
  if (other !== undefined) {
    throw new ApiError('BAD_REQUEST', `q: ${other} takes an exact value or, for times, a range`);
  }
}

/** Harbor's `q`: id, job_status (Success, Error ...), job_kind (MANUAL, SCHEDULE), time ranges. */
export function historyFilter(raw: string | undefined): HistoryFilter {
  const q = parseHarborQuery(raw);
  exactOnly(q);
  const filter: HistoryFilter = {};
  for (const [key, value] of Object.entries(q.exact)) {
    if (key === 'id') {
      if (!/^\d{1,15}$/.test(value)) throw new ApiError('BAD_REQUEST', 'q: id must be a number');
      filter.jobId = Number(value);
    } else if (key === 'job_status' || key === 'status') {
      if (!isHarborJobStatus(value)) {
        throw new ApiError(
          'BAD_REQUEST',
          `q: ${key} must be one of Pending, Running, Stopped, Error, Success`,
        );
      }
      filter.status = value;
    } else if (key === 'job_kind' || key === 'trigger') {
      if (value !== 'MANUAL' && value !== 'SCHEDULE') {
        throw new ApiError('BAD_REQUEST', `q: ${key} must be MANUAL or SCHEDULE`);
      }
      filter.trigger = value;
    } else throw new ApiError('BAD_REQUEST', `q: filtering by "${key}" is not supported`);
  }
  for (const [key, range] of Object.entries(q.range)) {
    if (key === 'creation_time' || key === 'start_time') {
      filter.createdFrom = time(range.min, key);
      filter.createdTo = time(range.max, key);
    } else if (key === 'update_time' || key === 'end_time') {
      filter.updatedFrom = time(range.min, key);
      filter.updatedTo = time(range.max, key);
    } else throw new ApiError('BAD_REQUEST', `q: a range of "${key}" is not supported`);
  }
  return filter;
}
