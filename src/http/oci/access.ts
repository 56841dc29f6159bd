import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../domain/errors.js';
import { isRepositoryName } from '../../domain/reference.js';
import type { RegistryAction } from '../../domain/rbac.js';
import type { AccessService } from '../../services/access-service.js';
import type { AuthService } from '../../services/auth-service.js';
import {
  ANONYMOUS,
  isSignedIn,
  isSystemReplication,
  type Principal,
  type TokenPrincipal,
} from '../../services/principal.js';
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
  // A name outside the grammar can be in no scope, and may hold characters a header cannot carry.
  if (!isRepositoryName(name)) return undefined;
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

/** Why an anonymous caller is refused: sign-in is required everywhere, or for this project. */
function anonymousRefusal(deps: OciAccessDeps, name: string, action: RegistryAction): string {
  if (deps.access.requireSignIn)
    return 'this registry requires sign-in for every request (auth.require_signin)';
  if (action !== 'pull') return `authentication required to ${action} ${name}`;
  // The same words whether the project is private or missing: private means invisible.
  return `${name} is not in a public project, or does not exist: sign in to pull it`;
}

/** The refusal for a signed-in caller who may not see the project, the same as for a missing one. */
function unknownProject(deps: OciAccessDeps, principal: Principal, projectName: string): RegistryError {
  // Whoever sees every project learns nothing from the plain truth.
  const message = deps.access.isSysadmin(principal)
    ? `project ${projectName} does not exist; create it first`
    : `project ${projectName} does not exist or you have no access to it`;
  return new RegistryError('NAME_UNKNOWN', message);
}

/**
 * Decides `action` on repository `name` (already a valid name with a project part) for a caller
 * whose identity is known: returns when allowed, else throws the answer. Anonymous callers are
 * asked to sign in; a signed-in caller gets NAME_UNKNOWN when the project is missing or not
 * visible to it (the same answer), DENIED when it sees the project but lacks the permission, so
 * that clients show a message about the name rather than "authentication required".
 */
async function decideRepository(
  deps: OciAccessDeps,
  principal: Principal,
  name: string,
  action: RegistryAction,
  askToSignIn: (message: string) => never,
): Promise<void> {
  const projectName = projectOfRepository(name);
  const project = await deps.access.project(projectName);
  if (project && (await deps.access.can(principal, project, 'repository', action))) return;
  if (!isSignedIn(principal)) askToSignIn(anonymousRefusal(deps, name, action));
  if (!project || !(await deps.access.sees(principal, project))) {
    throw unknownProject(deps, principal, projectName);
  }
  throw new RegistryError('DENIED', `${action} on ${name} is not allowed`);
}

function tokenGrants(token: TokenPrincipal, name: string, action: RegistryAction): boolean {
  return token.access.some(
    (a) =>
      a.type === 'repository' && a.name === name && (a.actions.includes(action) || a.actions.includes('*')),
  );
}

/**
 * Authorises a /v2 request; returns the caller or throws UNAUTHORIZED (with a challenge) when
 * signing in (again) could help, else NAME_UNKNOWN, NAME_INVALID or DENIED.
 */
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
  const askToSignIn = (message: string): never => {
    challenge(request, reply, deps, scope);
    throw unauthorized(message);
  };

  if (action === 'base') {
    if (principal.kind === 'anonymous') askToSignIn('authentication required');
    return principal;
  }
  if (action === 'catalog') {
    const allowed =
      deps.access.isSysadmin(principal) ||
      (principal.kind === 'token' &&
        principal.access.some((a) => a.type === 'registry' && a.name === 'catalog'));
    if (allowed) return principal;
    const message = 'the catalog is available to system administrators only';
    if (isSignedIn(principal)) throw new RegistryError('DENIED', message);
    return askToSignIn(message);
  }
  if (!isRepositoryName(name)) return principal; // the service answers NAME_INVALID
  if (principal.kind === 'token' && tokenGrants(principal, name, action)) return principal;
  if (principal.kind === 'anonymous' && deps.access.requireSignIn) {
    askToSignIn(anonymousRefusal(deps, name, action));
  }
  if (!name.includes('/')) {
    throw new RegistryError('NAME_INVALID', `repository names start with a project: <project>/${name}`);
  }
  if (principal.kind === 'token') {
    // The token lacks this scope. If its account holds the permission, the client only has to
    // ask the token service for it; if not, asking again cannot help, so the answer is the one
    // that account gets with its credentials (never an authentication error for a name problem).
    const account = principal.subject === '' ? ANONYMOUS : await deps.access.accountOf(principal.subject);
    if (!account) return askToSignIn(`the account of this token cannot sign in any more`);
    await decideRepository(deps, account, name, action, askToSignIn);
    return askToSignIn(`the token does not grant ${action} on ${name}; ask the token service for it`);
  }
  await decideRepository(deps, principal, name, action, askToSignIn);
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
  const project = await deps.access.project(projectOfRepository(name));
  return project !== null && (await deps.access.can(principal, project, 'repository', 'pull'));
}

/** The project a repository name belongs to: its first path component. */
function projectOfRepository(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? name : name.slice(0, slash);
}
