import type { Queryable } from '../metadata/database.js';
import { findRobotById } from '../metadata/robots-table.js';
import type { Principal } from './principal.js';
import { ServiceError } from './service-error.js';

// When a caller's own rights end, so that nothing it creates or grants outlives it.

/**
 * A robot's expiry (null: never), read from its row rather than the principal, so that a robot
 * shortened a moment ago is held to its new end; users do not expire (null).
 */
export async function callerExpiry(db: Queryable, principal: Principal): Promise<Date | null> {
  if (principal.kind !== 'robot') return null;
  const self = await findRobotById(db, principal.id);
  if (!self) throw new ServiceError('unauthorized', 'authentication required');
  return self.expires_at;
}

/** Does an expiry (null: never) come after the limit (null: no limit)? */
export function endsLater(end: Date | null, limit: Date | null): boolean {
  if (limit === null) return false;
  return end === null || end.getTime() > limit.getTime();
}
