import { apiArea } from '../area.js';
import { ApiError } from '../api-error.js';
import { jsonMap } from '../schemas.js';
import { isSignedIn } from '../../../services/principal.js';

// /api/v2.0/configurations: Harbor's shape, {name: {value, editable}} on GET, {name: value} on PUT.

export const configurationsArea = apiArea('configurations', ['settings'], (api, { settings }) => {
  api.get('/configurations', async (request, reply) => {
    const principal = request.principal;
    if (!(principal.kind === 'user' && principal.sysadmin)) {
      throw new ApiError(isSignedIn(principal) ? 'FORBIDDEN' : 'UNAUTHORIZED', 'system administrators only');
    }
    const current = await settings.get();
    reply.send({
      auth_mode: { value: 'db_auth', editable: false },
      project_creation_restriction: { value: current.project_creation_restriction, editable: true },
      storage_per_project: { value: current.storage_per_project, editable: true },
      self_registration: { value: false, editable: false },
      audit_log_forward_endpoint: { value: settings.fromFile.audit_log_forward_endpoint, editable: false },
      skip_audit_log_database: { value: settings.fromFile.skip_audit_log_database, editable: false },
    });
  });

  // The settings service knows each setting's type and checks the values.
  api.put('/configurations', { schema: { body: jsonMap() } }, async (request, reply) => {
    await settings.update(request.principal, request.body);
    reply.send();
  });
});
