import type { Database } from '../metadata/database.js';
import { applyPulls, type PullCount } from '../metadata/pull-stats-table.js';

// Pull times and counts (Harbor's pull_time, pull_count). Pulls are the hot path, so they are
// counted in memory and written in one statement at most a second later; a killed instance can
// lose the last second of counts, which only ever makes them slightly low.

const FLUSH_MS = 1000;

export class PullStatsService {
  private pending = new Map<string, PullCount>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly onError: (err: unknown) => void,
  ) {}

  record(repository: string, digest: string, tag: string | null): void {
    const key = `${repository}\0${digest}\0${tag ?? ''}`;
    const entry = this.pending.get(key);
    if (entry) {
      entry.count++;
      entry.time = new Date();
    } else this.pending.set(key, { repository, digest, tag, count: 1, time: new Date() });
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    try {
      await applyPulls(this.db, batch);
    } catch (err) {
      this.onError(err);
    }
  }
}
