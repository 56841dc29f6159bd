import type { FastifyInstance } from 'fastify';
import type { SettingsService } from '../../../services/settings-service.js';
import { ApiError } from '../api-error.js';
import { objectBody } from '../body.js';
import { isSignedIn } from '../../../services/principal.js';

// /api/v2.0/configurations: Harbor's shape, {name: {value, editable}} on GET, {name: value} on PUT.

export function registerConfigurationRoutes(api: FastifyInstance, settings: SettingsService): void {
  api.get('/configurations', async (request, reply) => {
    const principal = request.principal;
    if (!(principal.kind === 'user' && principal.sysadmin)) {
      throw new ApiError(isSignedIn(principal) ? 'FORBIDDEN' : 'UNAUTHORIZED', 'system administrators only');
    }
    const current = await settings.get();
    reply.send({
      auth_mode: { value: 'db_auth', editable: false },
      project_creation_restriction: { value: current.project_creation_restriction, editable: true },
      self_registration: { value: false, editable: false },
    });
  });

  api.put('/configurations', async (request, reply) => {
    await settings.update(request.principal, objectBody(request.body));
    reply.send();
  });
}
