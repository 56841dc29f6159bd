import type { FastifyRequest } from 'fastify';
import { SYSTEM_RESOURCE_ACTIONS, type Action } from '../../domain/rbac.js';
import type { AccessService } from '../../services/access-service.js';
import { ApiError } from './api-error.js';
import { isSignedIn } from '../../services/principal.js';

// The job service's API is for system administrators (Harbor's `jobservice-monitor` system
// resource): anonymous callers are told to sign in (401), others are refused (403).

export function requireMonitor(request: FastifyRequest, access: AccessService, action: Action): void {
  const allowed =
    access.isSysadmin(request.principal) && SYSTEM_RESOURCE_ACTIONS['jobservice-monitor'].includes(action);
  if (allowed) return;
  throw new ApiError(
    isSignedIn(request.principal) ? 'FORBIDDEN' : 'UNAUTHORIZED',
    'the job service is for system administrators',
  );
}
