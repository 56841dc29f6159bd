import type { Queryable } from '../../metadata/database.js';
import { listOpenTasks } from '../../metadata/replication-executions-table.js';

// Work already under way: the open (pending or running) tasks of a policy, as
// "operation dst_repository:tag@digest" keys. A run planned while another run's task still copies
// a tag (typically an event-based run started by the peer's copies coming in) does not plan that
// same work again: two policies pointing at each other then settle in the tasks they need.
// Retrying tasks stay open until they succeed or their window ends, so nothing is lost by this.

export function workKey(
  operation: 'copy' | 'deletion',
  repository: string,
  tag: string,
  digest: string,
): string {
  return `${operation} ${repository}:${tag}@${digest}`;
}

/** With `doneSince`, work finished since then counts as taken too (it is done). */
export async function openWork(
  db: Queryable,
  policyId: number,
  doneSince: Date | null = null,
): Promise<Set<string>> {
  const rows = await listOpenTasks(db, policyId, doneSince);
  return new Set(rows.map((r) => workKey(r.operation, r.dst_repository, r.tag, r.digest)));
}
