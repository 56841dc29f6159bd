import type { JobService } from '../../jobs/job-service.js';
import type { Database } from '../../metadata/database.js';
import type { ArtifactService } from '../artifacts/artifact-service.js';
import type { ProjectService } from '../project-service.js';
import { RetentionExecutionService } from './execution-service.js';
import { RetentionPolicyService } from './policy-service.js';

// Tag retention: policies (policy-service.ts), executions and their per-repository tasks on the
// job service (execution-service.ts, task-runner.ts), the end of a run and its event
// (execution-end.ts). The rules themselves are pure code in domain/retention-rules.ts.

/** Rows the HTTP layer shows, as this feature owns them. */
export type { RetentionExecutionRow, RetentionTaskRow } from '../../metadata/retention-executions-table.js';
export { RetentionExecutionService } from './execution-service.js';
export { RetentionPolicyService } from './policy-service.js';

export interface RetentionModule {
  policies: RetentionPolicyService;
  executions: RetentionExecutionService;
}

export function createRetention(deps: {
  db: Database;
  projects: ProjectService;
  jobs: JobService;
  artifacts: ArtifactService;
}): RetentionModule {
  const policies = new RetentionPolicyService(deps.db, deps.projects, deps.jobs);
  const executions = new RetentionExecutionService({
    db: deps.db,
    jobs: deps.jobs,
    policies,
    artifacts: deps.artifacts,
  });
  return { policies, executions };
}
