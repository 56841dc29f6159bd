import type { EventActor } from '../domain/events.js';
import type { RobotPermission } from '../metadata/robots-table.js';
import { ServiceError } from './service-error.js';

// Who is calling. Resolved once per request by the HTTP edge (Basic, session cookie or bearer
// token) and handed to AccessService for every decision. The edge also stamps the caller's
// address on it (atAddress), so every event a service records names where the change came from
// without each service method taking the address.

/** Where the call came from, as the HTTP edge saw it; absent for calls from inside Wharf. */
interface CallerAddress {
  clientAddress?: string;
}

export interface UserPrincipal extends CallerAddress {
  kind: 'user';
  id: number;
  username: string;
  sysadmin: boolean;
}

export interface RobotPrincipal extends CallerAddress {
  kind: 'robot';
  id: number;
  name: string;
  projectId: number | null;
  permissions: RobotPermission[];
}

/** A registry bearer token: exactly the access its claims list, nothing else. */
export interface TokenPrincipal extends CallerAddress {
  kind: 'token';
  subject: string;
  access: TokenAccess[];
  /** This registry's own replication (an in-process token with the system claim). */
  system?: true;
}

export type Principal =
  ({ kind: 'anonymous' } & CallerAddress) | UserPrincipal | RobotPrincipal | TokenPrincipal;

/**
 * A signed-in account: a user or a robot whose credentials were checked on this request (or its
 * session). Anonymous callers and registry tokens are not: a token speaks only for the /v2
 * repositories its claims list, never for an account, so the management API treats it as anonymous.
 */
export function isSignedIn(p: Principal): p is UserPrincipal | RobotPrincipal {
  return p.kind === 'user' || p.kind === 'robot';
}

/** Refuses anyone but a signed-in account: 401 at the edge, so the client can sign in. */
export function requireSignedIn(
  p: Principal,
  message = 'authentication required',
): asserts p is UserPrincipal | RobotPrincipal {
  if (!isSignedIn(p)) throw new ServiceError('unauthorized', message);
}

/** How to refuse a caller who lacks a right: ask to sign in (401), or forbid a signed-in account (403). */
export function refusalFor(p: Principal): 'unauthorized' | 'forbidden' {
  return isSignedIn(p) ? 'forbidden' : 'unauthorized';
}

/** Writes made by this registry's replication itself (may state origin times; events name the system). */
export function isSystemReplication(p: Principal): boolean {
  return p.kind === 'token' && p.system === true;
}

export interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

export const ANONYMOUS: Principal = { kind: 'anonymous' };

export function principalName(p: Principal): string {
  switch (p.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'user':
      return p.username;
    case 'robot':
      return p.name;
    case 'token':
      return p.subject;
  }
}

/** The same caller, calling from `address` (stamped once by the HTTP edge). */
export function atAddress<P extends Principal>(p: P, address: string): P {
  return { ...p, clientAddress: address };
}

/**
 * Who an event names for a write by `p`, from the address the edge stamped on it unless given.
 * Replication's own token is the system; another registry token speaks for the account it was
 * issued to (robots are named robot$...).
 */
export function eventActor(p: Principal, clientIp: string | null = p.clientAddress ?? null): EventActor {
  switch (p.kind) {
    case 'anonymous':
      return { name: 'anonymous', kind: 'anonymous', clientIp };
    case 'user':
      return { name: p.username, kind: 'user', clientIp };
    case 'robot':
      return { name: p.name, kind: 'robot', clientIp };
    case 'token': {
      if (p.system === true) return { name: p.subject, kind: 'system', clientIp };
      if (p.subject === '') return { name: 'anonymous', kind: 'anonymous', clientIp };
      return { name: p.subject, kind: p.subject.startsWith('robot$') ? 'robot' : 'user', clientIp };
    }
  }
}
