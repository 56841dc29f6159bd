import { ImmutableTagError, RegistryError } from '../../domain/errors.js';
import {
  retainedDigests,
  ruleAppliesTo,
  type RetentionCandidate,
  type RetentionRule,
} from '../../domain/retention-rules.js';
import { repositoryWithinProject } from '../../domain/tag-selectors.js';
import type { JobContext } from '../../jobs/queue.js';
import type { Database } from '../../metadata/database.js';
import { retentionCandidates } from '../../metadata/retention-candidates.js';
import {
  findRetentionExecution,
  findRetentionTask,
  finishRetentionTask,
  startRetentionTask,
  type RetentionDeletion,
} from '../../metadata/retention-executions-table.js';
import { findRetentionPolicy } from '../../metadata/retention-policies-table.js';
import type { ArtifactService } from '../artifacts/artifact-service.js';
import { endExecutionIfDone, RETENTION_ACTOR } from './execution-end.js';

// One retention task: one repository of one execution, run as one job whose log is the task's
// log. It ranks the repository's candidates by the rules that apply to it, then removes every
// artifact no rule retains through the artifact core (ArtifactService.deleteArtifact, the one
// delete rule set: its tags, accessories and released index children go with it, and the bytes
// are left to the next garbage collection). A dry run asks the core for the same plan and changes
// nothing. An immutable tag keeps its artifact (reported IMMUTABLE, never a failed run); a
// deletion the core refuses otherwise (an index still lists it) is reported ERR and kept.
// Idempotent: run again after a crash, it finds what the first run left and finishes it.

export interface RetentionTaskPayload {
  taskId: number;
}

export type RetentionMark = 'RETAIN' | 'DEL' | 'IMMUTABLE' | 'ERR' | 'GONE';

export interface TaskRunnerDeps {
  db: Database;
  artifacts: ArtifactService;
}

function toCandidate(row: Awaited<ReturnType<typeof retentionCandidates>>[number]): RetentionCandidate {
  return {
    digest: row.digest,
    tags: row.tags,
    labels: row.labels,
    pushedAt: new Date(row.pushed_at).getTime(),
    pulledAt: row.pulled_at ? new Date(row.pulled_at).getTime() : 0,
  };
}

const time = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '-');

/** Removes (or, dry, plans to remove) one artifact; what became of it. */
async function removeOne(
  deps: TaskRunnerDeps,
  repository: string,
  digest: string,
  dryRun: boolean,
): Promise<{ mark: RetentionMark; reason?: string }> {
  try {
    await deps.artifacts.deleteArtifact(repository, digest, RETENTION_ACTOR, { planOnly: dryRun });
    return { mark: 'DEL' };
  } catch (err) {
    if (err instanceof ImmutableTagError) return { mark: 'IMMUTABLE', reason: err.message };
    if (err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN') return { mark: 'GONE' };
    if (err instanceof RegistryError) return { mark: 'ERR', reason: err.message };
    throw err;
  }
}

interface TaskOutcome {
  total: number;
  retained: number;
  deleted: RetentionDeletion[];
  stopped: boolean;
}

async function processRepository(
  deps: TaskRunnerDeps,
  job: JobContext,
  repository: string,
  rules: RetentionRule[],
  dryRun: boolean,
): Promise<TaskOutcome> {
  const candidates = (await retentionCandidates(deps.db, repository)).map(toCandidate);
  job.log(
    `${candidates.length} candidates in ${repository}; ${rules.length} rule(s) apply; dry run: ${dryRun}`,
  );
  const keep = retainedDigests(rules, candidates, Date.now());
  const outcome: TaskOutcome = { total: candidates.length, retained: 0, deleted: [], stopped: false };
  job.log('artifact | tags | labels | pushed | pulled | retention');
  for (const c of candidates) {
    let mark: RetentionMark = 'RETAIN';
    let reason: string | undefined;
    if (!keep.has(c.digest)) {
      if (job.signal.aborted) {
        outcome.stopped = true;
        break;
      }
      ({ mark, reason } = await removeOne(deps, repository, c.digest, dryRun));
    }
    if (mark === 'DEL' || mark === 'GONE') {
      outcome.deleted.push({ repository, digest: c.digest, tags: [...c.tags] });
    } else {
      outcome.retained++;
    }
    const row = [
      c.digest,
      c.tags.join(',') || '<untagged>',
      c.labels.join(','),
      time(c.pushedAt),
      time(c.pulledAt),
    ];
    job.log(`${row.join(' | ')} | ${mark}${reason ? `: ${reason}` : ''}`);
  }
  return outcome;
}

/** The handler of a retention.task job. */
export async function runRetentionTask(deps: TaskRunnerDeps, job: JobContext): Promise<string | void> {
  const { taskId } = job.payload as RetentionTaskPayload;
  const task = await findRetentionTask(deps.db, taskId);
  const execution = task ? await findRetentionExecution(deps.db, task.execution_id) : null;
  const policy = execution ? await findRetentionPolicy(deps.db, execution.policy_id) : null;
  if (!task || !execution || !policy) return 'skipped: the task or its policy was deleted';
  if (!(await startRetentionTask(deps.db, task.id))) return `skipped: the task had ended (${task.status})`;
  const rules = (policy.policy.rules as RetentionRule[]).filter((r) =>
    ruleAppliesTo(r, repositoryWithinProject(task.repository)),
  );
  const outcome = await processRepository(deps, job, task.repository, rules, execution.dry_run);
  const verb = execution.dry_run ? 'would delete' : 'deleted';
  job.log(`total ${outcome.total}, retained ${outcome.retained}, ${verb} ${outcome.deleted.length}`);
  await deps.db.transaction(async (tx) => {
    await finishRetentionTask(tx, task.id, {
      status: outcome.stopped ? 'Stopped' : 'Success',
      total: outcome.total,
      retained: outcome.retained,
      deleted: outcome.deleted,
    });
    await endExecutionIfDone(tx, execution.id);
  });
  return outcome.stopped ? 'stopped' : undefined;
}

/** Marks a task whose job failed for good as Error, and ends its execution if it was the last. */
export async function failRetentionTask(deps: TaskRunnerDeps, taskId: number): Promise<void> {
  const task = await findRetentionTask(deps.db, taskId);
  if (!task) return;
  await deps.db.transaction(async (tx) => {
    await finishRetentionTask(tx, task.id, { status: 'Error' });
    await endExecutionIfDone(tx, task.execution_id);
  });
}
