import {
  insertExecution,
  setExecutionJob,
  type ExecutionTrigger,
} from '../../metadata/replication-executions-table.js';
import { EXECUTION_JOB, type ExecutionDeps } from './types.js';

// Starting runs: by a user (manual), by an event, and by the system itself when a policy must be
// compared again (a peer answers again, a retry window ended). The system's requests are
// deduplicated: while one reconciliation of a policy waits to be planned, asking again is a no-op
// (a unique partial index, so instances asking at once cannot both win).

export class Reconciler {
  readonly #deps: ExecutionDeps;

  constructor(deps: ExecutionDeps) {
    this.#deps = deps;
  }

  /** A full reconciliation run of an enabled policy, unless one waits already. */
  async request(policyId: number, reason: string): Promise<number | null> {
    try {
      const policy = await this.#deps.policies.byId(policyId);
      if (!policy?.enabled) return null;
      return await this.start(policyId, 'event_based', {
        awaiting: true,
        statusText: `reconciliation: ${reason}`,
      });
    } catch (err) {
      // Best effort: the next schedule, event or retry asks again.
      this.#deps.onError?.(err, `requesting a reconciliation of policy ${policyId}`);
      return null;
    }
  }

  /** Makes an execution and its planning job; null when a duplicate request was refused. */
  async start(
    policyId: number,
    trigger: ExecutionTrigger,
    options: { awaiting?: boolean; statusText?: string; scopeRepository?: string; originJobId?: number } = {},
  ): Promise<number | null> {
    const { db, jobs } = this.#deps;
    // One transaction: an execution never exists without its planning job.
    const id = await db.transaction(async (tx) => {
      const row = await insertExecution(tx, { policyId, trigger, ...options });
      if (!row) return null;
      if (row.job_id === null) {
        const job = await jobs.enqueue(EXECUTION_JOB, { executionId: row.id }, { db: tx });
        await setExecutionJob(tx, row.id, job.id);
      }
      return row.id;
    });
    jobs.wake();
    return id;
  }
}
