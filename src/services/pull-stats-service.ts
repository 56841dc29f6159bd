import type { EventActor, NewEvent } from '../domain/events.js';
import type { Database } from '../metadata/database.js';
import { recordEvents } from '../metadata/outbox-table.js';

// Pulls (Harbor's pull_time, pull_count) are the hot path: counted in memory and recorded at most
// a second later as `artifact.pulled` events, one per (repository, digest, tag, actor) with its
// count, in one statement. The pull statistics consumer (events/pull-stats-consumer.ts) applies
// them; audit and webhooks read the same events. A killed instance can lose the last second of
// pulls, which only ever makes counts slightly low.

const FLUSH_MS = 1000;

export interface Pull {
  repository: string;
  digest: string;
  tag: string | null;
  actor: EventActor;
}

export class PullStatsService {
  private pending = new Map<string, NewEvent<'artifact.pulled'>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Counts a pull; no query here. */
  record(pull: Pull): void {
    const { repository, digest, tag, actor } = pull;
    const key = JSON.stringify([repository, digest, tag, actor.name, actor.kind, actor.clientIp]);
    const entry = this.pending.get(key);
    if (entry) entry.data.count++;
    else {
      this.pending.set(key, {
        type: 'artifact.pulled',
        actor,
        projectName: repository.split('/')[0] ?? null,
        data: { repository, digest, tag, count: 1 },
      });
    }
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Records the pending pulls as events (every second, and at shutdown). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    try {
      await recordEvents(this.db, batch);
    } catch (err) {
      this.onError(err);
    }
  }
}
