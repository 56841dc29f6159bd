import type { Queryable } from './database.js';

// What the replication.finished event says of an ended execution: its policy, the peer, and the
// repositories its tasks touched with their outcome (migrations 005-007).

export interface FinishedExecutionFacts {
  policy_id: number;
  policy_name: string;
  trigger: string;
  /** Null: this registry is the source (push). */
  src_registry_id: number | null;
  remote_name: string | null;
  remote_type: string | null;
  remote_url: string | null;
  tasks: Array<{ src_repository: string; dst_repository: string; status: string }>;
}

export async function finishedExecutionFacts(
  db: Queryable,
  executionId: number,
): Promise<FinishedExecutionFacts | null> {
  const rows = await db.query<FinishedExecutionFacts>(
    `SELECT p.id AS policy_id, p.name AS policy_name, e.trigger, p.src_registry_id,
       r.name AS remote_name, r.type AS remote_type, r.url AS remote_url,
       COALESCE((SELECT json_agg(json_build_object('src_repository', t.src_repository,
                  'dst_repository', t.dst_repository, 'status', t.status) ORDER BY t.id)
                 FROM replication_tasks t WHERE t.execution_id = e.id), '[]'::json) AS tasks
     FROM replication_executions e JOIN replication_policies p ON p.id = e.policy_id
     LEFT JOIN registries r ON r.id = COALESCE(p.src_registry_id, p.dest_registry_id)
     WHERE e.id = $1`,
    [executionId],
  );
  return rows[0] ?? null;
}
