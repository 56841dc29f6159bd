import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../../domain/errors.js';
import type { AuthService, Principal } from '../../services/auth-service.js';
import type { OciRoute } from './routes.js';

// Authorisation for /v2 in one place. Until projects and roles exist, the rule is: any
// authenticated user may do anything; anonymous clients may pull when auth.anonymous_pull is on.

export type OciAction = 'base' | 'pull' | 'push' | 'delete' | 'catalog';

export function actionFor(route: OciRoute, method: string): OciAction {
  if (route.kind === 'base') return 'base';
  if (route.kind === 'catalog') return 'catalog';
  if (method === 'GET' || method === 'HEAD') {
    // Reading an upload session's status is part of pushing.
    return route.kind === 'upload' ? 'push' : 'pull';
  }
  if (method === 'DELETE' && route.kind !== 'upload') return 'delete';
  return 'push';
}

export interface AccessPolicy {
  anonymousPull: boolean;
  realm: string;
}

/** Reads Basic credentials; empty credentials (some clients send them) count as anonymous. */
function basicCredentials(request: FastifyRequest): { username: string; password: string } | null {
  const header = request.headers.authorization;
  if (!header || !/^basic /i.test(header)) return null;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  return username === '' && password === '' ? null : { username, password };
}

/** Returns the caller, or throws UNAUTHORIZED (401, with a challenge) or DENIED (403). */
export async function authorize(
  request: FastifyRequest,
  action: OciAction,
  auth: AuthService,
  policy: AccessPolicy,
): Promise<Principal | null> {
  const credentials = basicCredentials(request);
  if (credentials) {
    const principal = await auth.authenticate(credentials.username, credentials.password);
    if (!principal) throw new RegistryError('UNAUTHORIZED', 'invalid username or password');
    return principal;
  }
  if (request.headers.authorization && !/^basic /i.test(request.headers.authorization)) {
    throw new RegistryError('UNAUTHORIZED', 'unsupported authorization scheme; use Basic');
  }
  if (action === 'pull' && policy.anonymousPull) return null;
  throw new RegistryError('UNAUTHORIZED', 'authentication required');
}
