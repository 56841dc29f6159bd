import type { Database } from '../metadata/database.js';
import {
  blobUsage,
  jobCounts,
  replicationExecutionCounts,
  replicationTaskCounts,
  type CountByLabels,
} from '../metadata/metrics-queries.js';
import { outboxLag } from '../metadata/outbox-table.js';

// Cluster-wide figures for /metrics, read from the database when scraped. Several scrapers (or
// several instances scraped at once) within `cacheMs` share one read, so a tight scrape interval
// does not turn into a stream of aggregate queries.

export interface SystemSnapshot {
  jobs: CountByLabels[];
  replicationExecutions: CountByLabels[];
  replicationTasks: CountByLabels[];
  storage: { blobs: number; bytes: number };
  events: { undispatched: number; oldestSeconds: number };
}

export class SystemMetrics {
  private cached: { at: number; snapshot: Promise<SystemSnapshot> } | undefined;

  constructor(
    private readonly db: Database,
    private readonly cacheMs = 10_000,
  ) {}

  snapshot(): Promise<SystemSnapshot> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= this.cacheMs) {
      const snapshot = this.read();
      this.cached = { at: now, snapshot };
      // A failed read is not kept: the next scrape tries again.
      snapshot.catch(() => {
        if (this.cached?.snapshot === snapshot) this.cached = undefined;
      });
    }
    return this.cached.snapshot;
  }

  private async read(): Promise<SystemSnapshot> {
    // One after another: the embedded database serves one query at a time anyway.
    const jobs = await jobCounts(this.db);
    const replicationExecutions = await replicationExecutionCounts(this.db);
    const replicationTasks = await replicationTaskCounts(this.db);
    const storage = await blobUsage(this.db);
    const events = await outboxLag(this.db);
    return { jobs, replicationExecutions, replicationTasks, storage, events };
  }
}
