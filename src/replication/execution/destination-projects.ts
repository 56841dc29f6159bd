import type { JobContext } from '../../jobs/queue.js';
import type { NewTask } from '../../metadata/replication-executions-table.js';
import { isRetryable, messageOf } from './failures.js';
import type { Side } from './sides.js';

// Before the copies of a run, the destination projects exist: Harbor's adapters create a missing
// one with the source project's visibility, and so does Wharf, on a Harbor or Wharf peer and on
// this registry (pull policies). A docker-registry has no projects: nothing to do. A peer that is
// unreachable fails the planning (retried like any planning); one that refuses (the credential
// may not create projects) is logged, and the copies then fail with the peer's own answer.

/** A repository's project: its first path component ('' for a name without one). */
export const projectOf = (repository: string) => repository.slice(0, Math.max(0, repository.indexOf('/')));

/** `known`: destination projects known to exist (the run saw tags there). */
export async function prepareDestinationProjects(
  tasks: readonly NewTask[],
  known: ReadonlySet<string>,
  source: Side,
  destination: Side,
  job: JobContext,
): Promise<void> {
  const wanted = new Map<string, string>(); // destination project → a source project it comes from
  for (const t of tasks) {
    if (t.operation !== 'copy') continue;
    const project = projectOf(t.dstRepository);
    if (project !== '' && !known.has(project) && !wanted.has(project))
      wanted.set(project, projectOf(t.srcRepository));
  }
  for (const [project, from] of wanted) {
    job.signal.throwIfAborted();
    try {
      const existing = await destination.project(project, job.signal);
      if (existing !== null) continue; // there already, or the destination has no projects
      // A source that does not say (no projects, or no right to read it) makes a private project.
      const visibility =
        from === ''
          ? null
          : await source.project(from, job.signal).catch((err: unknown) => {
              if (isRetryable(err)) throw err;
              return null;
            });
      const isPublic = visibility?.public ?? false;
      if (await destination.createProject(project, isPublic, job.signal))
        job.log(`created project ${project} (${isPublic ? 'public' : 'private'}) at the destination`);
    } catch (err) {
      if (isRetryable(err)) throw err;
      job.log(`project ${project} could not be created at the destination: ${messageOf(err)}`);
    }
  }
}
