import { z } from 'zod';
import { apiArea } from '../area.js';
import { requiredString } from '../schemas.js';
import { wharfVersion } from '../version.js';
import { projectJson } from '../shapes/project.js';
import { isSignedIn } from '../../../services/principal.js';

// /api/v2.0/search, /statistics and /systeminfo: Harbor's shapes.

export const systemArea = apiArea('system', ['catalog', 'projects', 'settings'], (api, deps) => {
  const version = `wharf-${wharfVersion()}`;

  api.get(
    '/search',
    { schema: { querystring: z.object({ q: requiredString('q') }) } },
    async (request, reply) => {
      const result = await deps.catalog.search(request.principal, request.query.q);
      const projects = [];
      for (const project of result.projects) {
        projects.push(projectJson(await deps.projects.view(request.principal, project)));
      }
      reply.send({
        project: projects,
        repository: result.repositories.map(({ row, project }) => ({
          project_id: project.id,
          project_name: project.name,
          project_public: project.public,
          repository_name: row.name,
          pull_count: 0,
          artifact_count: row.artifact_count,
        })),
      });
    },
  );

  api.get('/statistics', async (request, reply) => {
    const stats = await deps.catalog.statistics(request.principal);
    reply.send({
      private_project_count: stats.privateProjects,
      private_repo_count: stats.privateRepositories,
      public_project_count: stats.publicProjects,
      public_repo_count: stats.publicRepositories,
      ...(stats.totals && {
        total_project_count: stats.totals.projects,
        total_repo_count: stats.totals.repositories,
        total_storage_consumption: stats.totals.storageBytes,
      }),
    });
  });

  api.get('/systeminfo', async (request, reply) => {
    const general = { auth_mode: 'db_auth', primary_auth_mode: false, self_registration: false };
    // As Harbor: callers who are not signed in learn only how to sign in.
    if (!isSignedIn(request.principal)) return reply.send(general);
    const settings = await deps.settings.get();
    reply.send({
      ...general,
      registry_url: request.headers.host ?? '',
      external_url: `${request.protocol}://${request.headers.host ?? ''}`,
      project_creation_restriction: settings.project_creation_restriction,
      has_ca_root: false,
      harbor_version: version,
      registry_storage_provider_name: 'filesystem',
      read_only: false,
      with_chartmuseum: false,
      notification_enable: false,
      current_time: new Date().toISOString(),
    });
  });
});
