import type { Action, Resource } from '../domain/rbac.js';
import type { AccessService, ProjectAccessFacts } from './access-service.js';
import type { Principal } from './principal.js';
import { ServiceError } from './service-error.js';

// The rule that stops any principal from handing out more than it holds: whatever a caller gives
// (a robot's permissions, a member's role) or takes over (a robot whose secret it resets) must be
// a subset of what the caller may do itself in that project. "Holds" is AccessService.can, so
// every rule of the one permission table (roles, robot grants, deny entries) applies here too.

export interface Grant {
  resource: string;
  action: string;
}

/** The first grant the principal does not hold in the project, or null when it holds every one. */
export async function firstGrantNotHeld(
  access: AccessService,
  principal: Principal,
  project: ProjectAccessFacts,
  grants: Iterable<Grant>,
): Promise<Grant | null> {
  // What the caller holds of its own: a public project lends everyone pull and reads, which a
  // caller must not hand on as rights that outlive the project being public.
  const own: ProjectAccessFacts = { ...project, public: false };
  for (const grant of grants) {
    // Strings outside the table (say, imported from a newer Harbor) are held by no role, so only
    // a principal that literally holds the same entry (or a system administrator) passes.
    if (!(await access.can(principal, own, grant.resource as Resource, grant.action as Action))) {
      return grant;
    }
  }
  return null;
}

/**
 * Refuses (403) unless the principal holds every grant in the project; `what` completes the
 * message "cannot <what>: you do not hold ...".
 */
export async function requireGrantsHeld(
  access: AccessService,
  principal: Principal,
  project: ProjectAccessFacts,
  grants: Iterable<Grant>,
  what: string,
): Promise<void> {
  const missing = await firstGrantNotHeld(access, principal, project, grants);
  if (missing) {
    throw new ServiceError(
      'forbidden',
      `cannot ${what}: you do not hold ${missing.action} of ${missing.resource} in ${project.name}`,
    );
  }
}
