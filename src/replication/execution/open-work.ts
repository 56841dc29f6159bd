import type { Queryable } from '../../metadata/database.js';

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

export async function openWork(db: Queryable, policyId: number): Promise<Set<string>> {
  const rows = await db.query<{
    operation: 'copy' | 'deletion';
    dst_repository: string;
    tag: string;
    digest: string;
  }>(
    `SELECT t.operation, t.dst_repository, t.tag, t.digest
     FROM replication_executions e JOIN replication_tasks t ON t.execution_id = e.id
     WHERE e.policy_id = $1 AND e.status = 'InProgress' AND t.status IN ('Pending', 'InProgress')`,
    [policyId],
  );
  return new Set(rows.map((r) => workKey(r.operation, r.dst_repository, r.tag, r.digest)));
}
