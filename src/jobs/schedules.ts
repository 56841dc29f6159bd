import { Cron } from 'croner';
import type { Database } from '../metadata/database.js';
import {
  advanceSchedule,
  databaseNow,
  insertScheduledJob,
  lockDueSchedules,
  upsertSchedule,
  type ScheduleRow,
} from '../metadata/schedules-table.js';

// Cron schedules that fire once per cluster per fire time. Every instance looks for due
// schedules; a due row is locked (SKIP LOCKED, so instances never wait on each other), gets one
// job for its fire time (unique per schedule and fire time, the second guard) and its next fire
// time, in one transaction. Fire times missed while no instance ran are coalesced into one run.
// Expressions are Harbor's: 6 fields with seconds ("0 0 2 * * *"); 5 fields are accepted too.
// Times are UTC, as Harbor's.

/** The next fire time strictly after `after`; throws on an invalid expression. */
export function nextFireTime(cron: string, after: Date): Date {
  const next = parseCron(cron).nextRun(after);
  if (!next) throw new Error(`cron expression ${cron} never fires again`);
  return next;
}

function parseCron(cron: string): Cron {
  // paused: the object only computes times; it never starts a timer of its own.
  return new Cron(cron.trim(), { paused: true, timezone: 'UTC', mode: '5-or-6-parts' });
}

/** Null when the expression is valid, else why not (for a 400 naming the problem). */
export function cronError(cron: string): string | null {
  try {
    nextFireTime(cron, new Date());
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export interface ScheduleJobRules {
  maxAttempts: number;
  deadlineMs: number | null;
}

/**
 * Fires the schedules that are due, a batch per transaction. `rules` holds the retry rules of the
 * types this instance knows; schedules of other types are left to an instance that knows them.
 * Returns the ids of the jobs created.
 */
export async function fireDueSchedules(
  db: Database,
  rules: ReadonlyMap<string, ScheduleJobRules>,
  batch = 20,
): Promise<number[]> {
  const created: number[] = [];
  if (rules.size === 0) return created;
  for (;;) {
    const { fired, more } = await db.transaction(async (tx) => {
      const { now, due } = await lockDueSchedules(tx, [...rules.keys()], batch);
      const ids: number[] = [];
      let advanced = 0;
      for (const s of due) {
        const r = rules.get(s.type);
        if (!r) continue;
        const id = await insertScheduledJob(tx, s, r);
        if (id !== undefined) ids.push(id);
        await advanceSchedule(tx, s.id, nextAfter(s, now));
        advanced++;
      }
      return { fired: ids, more: due.length === batch && advanced > 0 };
    });
    created.push(...fired);
    if (!more) return created;
  }
}

function nextAfter(s: ScheduleRow, now: Date): Date {
  try {
    return nextFireTime(s.cron, now > s.next_run ? now : s.next_run);
  } catch {
    // An expression that stopped parsing (a library change) must not fire in a loop: a year on.
    return new Date(now.getTime() + 365 * 86_400_000);
  }
}

/** Creates or replaces the schedule of (type, vendorId); the first fire time is the next one. */
export async function saveSchedule(
  db: Database,
  s: { type: string; vendorId?: number; cron: string; payload?: unknown },
): Promise<ScheduleRow> {
  const problem = cronError(s.cron);
  if (problem !== null) throw new Error(`invalid cron expression "${s.cron}": ${problem}`);
  return upsertSchedule(db, {
    type: s.type,
    vendorId: s.vendorId ?? 0,
    cron: s.cron.trim(),
    payload: s.payload ?? {},
    nextRun: nextFireTime(s.cron, await databaseNow(db)),
  });
}
