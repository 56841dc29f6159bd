import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../domain/errors.js';
import { isRepositoryName } from '../../domain/reference.js';
import type { RegistryAction } from '../../domain/rbac.js';
import type { AccessService } from '../../services/access-service.js';
import type { AuthService } from '../../services/auth-service.js';
import { isSystemReplication, type Principal } from '../../services/principal.js';
import type { TokenService } from '../../services/token-service.js';
import { resolvePrincipal } from '../credentials.js';
import type { OciRoute } from './routes.js';

// Authorisation for /v2, in one place: who is calling (credentials.ts), which project the
// repository belongs to, and whether the permission table lets the caller do the operation.

export type OciAction = 'base' | 'catalog' | RegistryAction;

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
  /** Registry-wide switch: anonymous clients may pull public projects only when true. */
  anonymousPull: boolean;
  /** 'bearer': challenge with the token service (Basic still accepted); 'basic': Basic only. */
  challenge: 'bearer' | 'basic';
  realm: string;
  /** Public URL of the registry, when configured; else taken from the request. */
  externalUrl: string | undefined;
}

export interface OciAccessDeps {
  auth: AuthService;
  tokens: TokenService;
  access: AccessService;
  policy: AccessPolicy;
}

/** The scope string a client should ask the token service for, to do `action` on `name`. */
function scopeFor(name: string, action: OciAction): string | undefined {
  if (action === 'base') return undefined;
  if (action === 'catalog') return 'registry:catalog:*';
  return `repository:${name}:${action === 'push' ? 'pull,push' : action}`;
}

export function externalBase(request: FastifyRequest, policy: AccessPolicy): string {
  if (policy.externalUrl) return policy.externalUrl.replace(/\/+$/, '');
  return `${request.protocol}://${request.headers.host ?? request.hostname}`;
}

/** Sets the WWW-Authenticate challenge that a 401 for this request must carry. */
function challenge(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: OciAccessDeps,
  scope: string | undefined,
): void {
  const { policy } = deps;
  if (policy.challenge === 'basic') {
    reply.header('www-authenticate', `Basic realm="${policy.realm}", charset="UTF-8"`);
    return;
  }
  const realm = `${externalBase(request, policy)}/service/token`;
  reply.header(
    'www-authenticate',
    `Bearer realm="${realm}",service="${deps.tokens.service}"${scope ? `,scope="${scope}"` : ''}`,
  );
}

function unauthorized(message: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', message);
}

/** Authorises a /v2 request; returns the caller or throws UNAUTHORIZED (with a challenge) or DENIED. */
export async function authorizeOci(
  request: FastifyRequest,
  reply: FastifyReply,
  route: OciRoute,
  deps: OciAccessDeps,
): Promise<Principal> {
  const action = actionFor(route, request.method);
  const name = 'name' in route ? route.name : '';
  const scope = scopeFor(name, action);
  let principal: Principal;
  try {
    principal = await resolvePrincipal(request, deps.auth, deps.tokens);
  } catch (err) {
    challenge(request, reply, deps, scope);
    throw err;
  }
  const refuse = (message: string): never => {
    if (principal.kind === 'anonymous' || principal.kind === 'token') {
      // Anonymous callers and tokens without this scope are asked to authenticate (again).
      challenge(request, reply, deps, scope);
      throw unauthorized(message);
    }
    throw new RegistryError('DENIED', message);
  };

  if (action === 'base') {
    if (principal.kind === 'anonymous') refuse('authentication required');
    return principal;
  }
  if (action === 'catalog') {
    const allowed =
      deps.access.isSysadmin(principal) ||
      (principal.kind === 'token' &&
        principal.access.some((a) => a.type === 'registry' && a.name === 'catalog'));
    if (!allowed) refuse('the catalog is available to system administrators only');
    return principal;
  }
  if (!isRepositoryName(name)) return principal; // the service answers NAME_INVALID
  if (principal.kind === 'token') {
    const ok = principal.access.some(
      (a) =>
        a.type === 'repository' && a.name === name && (a.actions.includes(action) || a.actions.includes('*')),
    );
    if (!ok) refuse(`the token does not grant ${action} on ${name}`);
    return principal;
  }
  if (principal.kind === 'anonymous' && !deps.policy.anonymousPull) refuse('authentication required');
  if (!name.includes('/')) {
    throw new RegistryError('NAME_INVALID', `repository names start with a project: <project>/${name}`);
  }
  const projectName = name.split('/')[0] as string;
  const project = await deps.access.project(projectName);
  if (!project) {
    if (principal.kind === 'anonymous') refuse('authentication required');
    throw new RegistryError('NAME_UNKNOWN', `project ${projectName} does not exist; create it first`);
  }
  if (!(await deps.access.can(principal, project, 'repository', action))) {
    refuse(`${action} on ${name} is not allowed`);
  }
  return principal;
}

/**
 * Who may state origin push times on a manifest write (origin-headers.ts): this registry's own
 * replication (its system token) and system administrators (a peer's replication signs in as one).
 */
export async function mayStateOrigins(principal: Principal, deps: OciAccessDeps): Promise<boolean> {
  if (isSystemReplication(principal)) return true;
  return deps.access.speaksForSysadmin(principal);
}

/** May the caller pull from `name` (the source of a cross-repository mount)? Never throws. */
export async function mayPull(principal: Principal, name: string, deps: OciAccessDeps): Promise<boolean> {
  if (!isRepositoryName(name) || !name.includes('/')) return false;
  if (principal.kind === 'token') {
    return principal.access.some(
      (a) => a.type === 'repository' && a.name === name && a.actions.includes('pull'),
    );
  }
  const project = await deps.access.project(name.split('/')[0] as string);
  return project !== null && (await deps.access.can(principal, project, 'repository', 'pull'));
}
