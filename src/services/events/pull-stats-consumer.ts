import { isEventOfType } from '../../domain/events.js';
import { applyPulls } from '../../metadata/pull-stats-table.js';
import type { EventConsumer } from './consumer.js';

/**
 * Pull counts and pull times from the batched `artifact.pulled` events. Applied in the
 * dispatcher's transaction, the one that marks the events dispatched: a redelivered batch was
 * either applied and marked together or neither, so nothing is counted twice.
 */
export function pullStatsConsumer(): EventConsumer {
  return {
    name: 'pull-statistics',
    types: new Set(['artifact.pulled']),
    async consume(tx, events) {
      const pulls = events.filter((e) => isEventOfType(e, 'artifact.pulled'));
      await applyPulls(
        tx,
        pulls.map((e) => ({ ...e.data, time: e.occurredAt })),
      );
    },
  };
}
