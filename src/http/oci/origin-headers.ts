import type { IncomingHttpHeaders } from 'node:http';
import { RegistryError } from '../../domain/errors.js';
import {
  ORIGIN_DELETED_AT_HEADER,
  ORIGIN_HEADER,
  ORIGIN_PUSH_TIME_HEADER,
  ORIGIN_RECORDED_HEADER,
} from '../../domain/origin-headers.js';

// Two-way replication between Wharf registries: the copy's tag write carries the time the tag
// was pushed at its origin, so the destination records it in the same transaction as the tag.
// Recorded apart, there is a moment when the copy shows its copy time as its push time, and a
// third registry reading it then would take the copy for a newer push. The destination also
// applies the two-way rule there: a tag holding a later version (or deleted later) is left alone
// and the answer says `superseded`. Only replication may state a time (its system token or a
// system administrator); from anyone else the headers are ignored. Wharf's own headers: a
// Harbor or distribution destination ignores them (and the copy records the time afterwards).

export { ORIGIN_RECORDED_HEADER };

export interface StatedOrigin {
  pushTime: Date;
  /** The origin registry's URL, for operators. */
  origin: string;
}

const MAX_ORIGIN_LENGTH = 2048;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The origin a request states, if any; a malformed one is MANIFEST_INVALID naming the header. */
export function statedOrigin(headers: IncomingHttpHeaders): StatedOrigin | undefined {
  const pushTime = statedTime(headers, ORIGIN_PUSH_TIME_HEADER);
  if (pushTime === undefined) return undefined;
  const origin = headers[ORIGIN_HEADER] ?? '';
  if (typeof origin !== 'string' || origin.length > MAX_ORIGIN_LENGTH || hasControl(origin)) {
    throw new RegistryError(
      'MANIFEST_INVALID',
      `${ORIGIN_HEADER} must be one URL of at most ${MAX_ORIGIN_LENGTH} characters`,
    );
  }
  return { pushTime, origin };
}

/** The origin deletion time a tag deletion states, if any. */
export function statedDeletion(headers: IncomingHttpHeaders): Date | undefined {
  return statedTime(headers, ORIGIN_DELETED_AT_HEADER);
}

function statedTime(headers: IncomingHttpHeaders, name: string): Date | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' && RFC3339.test(value) ? Date.parse(value) : NaN;
  // Not before the epoch, nor more than a day ahead (a time in the future would win every conflict).
  if (!Number.isFinite(ms) || ms < 0 || ms > Date.now() + 86_400_000) {
    throw new RegistryError(
      'MANIFEST_INVALID',
      `${name} must be one RFC 3339 time between 1970 and tomorrow`,
    );
  }
  return new Date(ms);
}

function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) < 0x20) return true;
  return false;
}
