import { DomainError } from './errors.js';
import type { EventActor } from './events.js';

// Project storage quotas: the pure rules (what a push may add, when usage is worth a warning) and
// the words Harbor uses for them, so clients and people reading webhooks see familiar messages.

/** Harbor's limit meaning "no limit". */
export const UNLIMITED = -1;

/** Harbor warns once usage reaches this share of the limit (its quota middleware's 85%). */
export const WARNING_PERCENT = 85;

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** Bytes as Harbor prints a storage amount: binary units, four significant digits ("1.5MiB"). */
export function formatStorage(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number(value.toPrecision(4))}${UNITS[unit]}`;
}

/** Whether adding `adding` bytes to `used` goes over `hard` (never, for an unlimited quota). */
export function exceedsLimit(hard: number, used: number, adding: number): boolean {
  return hard !== UNLIMITED && adding > 0 && used + adding > hard;
}

/** Whether usage moved from below the warning share of the limit to at or above it. */
export function crossesWarning(hard: number, used: number, adding: number): boolean {
  if (hard <= 0 || adding <= 0) return false;
  const threshold = (hard * WARNING_PERCENT) / 100;
  return used < threshold && used + adding >= threshold;
}

/** Harbor's warning text, as its QUOTA_WARNING webhooks carry it. */
export function warningMessage(hard: number, usedAfter: number): string {
  return `quota usage reach ${WARNING_PERCENT}%: resource storage used ${formatStorage(usedAfter)} of ${formatStorage(hard)}`;
}

/** What a refused write was and what it found: the facts of a QUOTA_EXCEED event. */
export interface QuotaRefusal {
  project: string;
  repository: string;
  /** The manifest's digest and tag for a manifest PUT; the blob's digest for a blob write. */
  digest: string | null;
  tag: string | null;
  hard: number;
  used: number;
  adding: number;
}

/** Harbor's message for a refused write (its ResourceOverflow error, behind its usual prefix). */
export function exceededMessage(r: Pick<QuotaRefusal, 'hard' | 'used' | 'adding'>): string {
  return (
    `Quota exceeded when processing the request of adding ${formatStorage(r.adding)} of storage resource, ` +
    `which when updated to current usage of ${formatStorage(r.used)} will exceed the configured upper ` +
    `limit of ${formatStorage(r.hard)}.`
  );
}

/**
 * A write that would take a project over its storage limit. Harbor answers DENIED (403) on /v2
 * and FORBIDDEN on its API; the refusal's facts go with it so the writer can record the event.
 */
export class QuotaExceededError extends DomainError {
  constructor(
    readonly refusal: QuotaRefusal,
    /** Who wrote, when the write said (its QUOTA_EXCEED event's operator). */
    readonly actor?: EventActor,
  ) {
    super('DENIED', exceededMessage(refusal));
    this.name = 'QuotaExceededError';
  }
}

/** Harbor's rule for a storage limit: -1 (unlimited) or a positive number of bytes. */
export function isValidStorageLimit(value: number): boolean {
  return Number.isSafeInteger(value) && (value === UNLIMITED || value > 0);
}
