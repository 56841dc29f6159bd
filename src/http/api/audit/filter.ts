import type { AuditFilter } from '../../../services/audit-service.js';
import { ApiError } from '../api-error.js';
import { parseHarborQuery } from '../query.js';

// Harbor's `q` for audit logs: operation, resource_type, username exactly; resource exactly or
// fuzzily (`resource=~app`, both match within the name as before); op_time as a range
// (`op_time=[2024-01-01 00:00:00~2024-12-31 23:59:59]`).

const EARLIEST_TIME = Date.UTC(-4712, 0, 1);
const LATEST_TIME = Date.UTC(294276, 0, 1);

function time(value: string | undefined): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const d = new Date(value);
  // PostgreSQL's timestamptz holds 4713 BC to 294276 AD; JavaScript dates reach further.
  if (Number.isNaN(d.getTime()) || d.getTime() < EARLIEST_TIME || d.getTime() > LATEST_TIME) {
    throw new ApiError('BAD_REQUEST', 'op_time is not a valid time');
  }
  return d;
}

export function auditFilterOf(q: string | undefined): AuditFilter {
  const query = parseHarborQuery(q);
  const from = time(query.range.op_time?.min);
  const to = time(query.range.op_time?.max);
  const resourceLike = query.fuzzy.resource ?? query.exact.resource;
  return {
    ...(query.exact.operation !== undefined && { operation: query.exact.operation }),
    ...(query.exact.resource_type !== undefined && { resourceType: query.exact.resource_type }),
    ...(resourceLike !== undefined && { resourceLike }),
    ...(query.exact.username !== undefined && { operator: query.exact.username }),
    ...(from && { from }),
    ...(to && { to }),
  };
}
