import { z } from 'zod';

// The path of Harbor's repository and artifact routes:
// /projects/{project_name}/repositories/{repository_name}/artifacts/{reference}.

/**
 * The repository name in the path, without the project. Harbor's clients encode its slashes
 * twice (%252F), others once (%2F); the router has decoded one level already.
 */
export const repositoryName = z.string().transform((raw, ctx) => {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'the repository name is not validly encoded' });
    return z.NEVER;
  }
});

export const repositoryParams = z.object({ project_name: z.string(), repository_name: repositoryName });

export const artifactParams = repositoryParams.extend({ reference: z.string() });

/** Project, repository (without the project) and reference, as the catalog and label services take them. */
export function artifactPath(params: { project_name: string; repository_name: string; reference: string }) {
  return { project: params.project_name, repository: params.repository_name, reference: params.reference };
}
