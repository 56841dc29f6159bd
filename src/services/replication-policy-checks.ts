import { isRepositoryName } from '../domain/reference.js';
import { checkFilter, FilterError, type PolicyFilter } from '../domain/replication-filters.js';
import { cronError } from '../jobs/schedules.js';
import type { TriggerType } from '../metadata/replication-policies-table.js';
import { ServiceError } from './service-error.js';

// The policy service's checks of single fields, kept apart from its persistence: destination
// names, filters, triggers and speed. Messages name Harbor's fields, which the API reports.

const MAX_FILTERS = 20;
const MAX_REPLACE_COUNT = 127; // Harbor's int8
const MAX_SPEED = 2_147_483_647; // Harbor's int32, KB/s

interface Trigger {
  type: TriggerType;
  cron: string;
}

export function invalid(message: string): ServiceError {
  return new ServiceError('invalid', message);
}

/** Where replicated repositories land: a namespace ('' keeps the source's) and how much of the path it replaces. */
export function checkDestinationNames(destNamespace: string, replaceCount: number): void {
  if (destNamespace !== '' && !isRepositoryName(destNamespace)) {
    throw invalid(
      `invalid dest_namespace "${destNamespace.slice(0, 100)}": lowercase path components ([a-z0-9] with . _ - inside), separated by /`,
    );
  }
  if (!Number.isInteger(replaceCount) || replaceCount < -1 || replaceCount > MAX_REPLACE_COUNT) {
    throw invalid(
      `dest_namespace_replace_count must be -1 (keep only the last path component) or 0 to ${MAX_REPLACE_COUNT} (path components replaced)`,
    );
  }
}

export function checkFilters(filters: readonly PolicyFilter[]): void {
  if (filters.length > MAX_FILTERS) throw invalid(`a policy has at most ${MAX_FILTERS} filters`);
  try {
    filters.forEach(checkFilter);
  } catch (err) {
    if (err instanceof FilterError) throw invalid(err.message);
    throw err;
  }
}

/** A scheduled trigger needs a valid cron; the others keep none. */
export function checkedTrigger(trigger: Trigger): Trigger {
  if (trigger.type !== 'scheduled') return { type: trigger.type, cron: '' };
  const cron = trigger.cron.trim();
  if (cron === '') throw invalid('a scheduled trigger needs trigger_settings.cron');
  const problem = cronError(cron);
  if (problem !== null) {
    throw invalid(
      `invalid cron "${cron.slice(0, 100)}" for the scheduled trigger (6 fields, seconds first: "0 0 2 * * *"): ${problem}`,
    );
  }
  return { type: 'scheduled', cron };
}

export function checkSpeed(speed: number): void {
  if (!Number.isInteger(speed) || speed < -1 || speed > MAX_SPEED) {
    throw invalid(`speed must be a whole number of KB/s up to ${MAX_SPEED}; -1 or 0 for unlimited`);
  }
}
