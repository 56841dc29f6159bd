import type { Database } from '../metadata/database.js';
import { insertJobLogLines, readJobLog } from '../metadata/jobs-table.js';
import { RETRY_UNTIL_DEADLINE } from './queue.js';

// Job logs live in the database so that any instance can serve them (an instance that ran a job
// may be gone). Lines are buffered and written in batches: a chatty handler costs one INSERT per
// flush interval, not one per line.

/** Longest line kept; longer ones are cut (a log is for people, not a data channel). */
export const MAX_LINE_LENGTH = 4_096;
/** Lines served for one job at most. */
export const MAX_LOG_LINES = 50_000;

export function cleanLine(line: string): string {
  // One stored line per call: newlines inside become spaces, control characters go.
  // eslint-disable-next-line no-control-regex
  const flat = line.replace(/\r?\n/g, ' ').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  return flat.length > MAX_LINE_LENGTH ? `${flat.slice(0, MAX_LINE_LENGTH)}…` : flat;
}

/**
 * The first line of an attempt, counted plainly: "attempt 2 of 5 started on wharf-1", or just
 * "attempt 2 started on wharf-1" for jobs that a deadline ends (an "of 1000000" tells nothing).
 * The instance is named by its instance name, as in X-Wharf-Instance, never by a pool id.
 */
export function attemptStartedLine(attempt: number, maxAttempts: number, instanceName: string): string {
  const of = maxAttempts >= RETRY_UNTIL_DEADLINE ? '' : ` of ${maxAttempts}`;
  return `attempt ${attempt}${of} started on ${instanceName}`;
}

/** The text/plain body of GET /jobservice/jobs/{id}/log: one "time line" row per line. */
export function formatLog(lines: ReadonlyArray<{ at: Date; line: string }>): string {
  return lines.map((l) => `${l.at.toISOString()} ${l.line}\n`).join('');
}

export class JobLogWriter {
  private pending: Array<{ jobId: number; at: Date; line: string }> = [];
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  // Plain fields, no parameter properties: test harnesses run these sources with type stripping.
  private readonly db: Database;
  private readonly onError: (err: unknown) => void;

  constructor(db: Database, onError: (err: unknown) => void, flushEveryMs = 500) {
    this.db = db;
    this.onError = onError;
    this.timer = setInterval(() => void this.flush(), flushEveryMs);
    this.timer.unref();
  }

  append(jobId: number, line: string): void {
    this.pending.push({ jobId, at: new Date(), line: cleanLine(line) });
  }

  /** Writes what is buffered; resolves when everything appended before the call is stored. */
  flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(async () => {
      const byJob = new Map<number, Array<{ at: Date; line: string }>>();
      for (const l of batch) {
        const lines = byJob.get(l.jobId) ?? [];
        lines.push({ at: l.at, line: l.line });
        byJob.set(l.jobId, lines);
      }
      for (const [jobId, lines] of byJob) {
        // A failed write loses those lines, never the job: logs are a diagnostic, not state.
        await insertJobLogLines(this.db, jobId, lines).catch(this.onError);
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

export async function jobLogText(db: Database, jobId: number): Promise<string> {
  return formatLog(await readJobLog(db, jobId, MAX_LOG_LINES));
}
