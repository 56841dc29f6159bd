import type { RobotPermission } from '../metadata/robots-table.js';

// Who is calling. Resolved once per request by the HTTP edge (Basic, session cookie or bearer
// token) and handed to AccessService for every decision.

export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user'; id: number; username: string; sysadmin: boolean }
  | { kind: 'robot'; id: number; name: string; projectId: number | null; permissions: RobotPermission[] }
  /** A registry bearer token: exactly the access its claims list, nothing else. */
  | {
      kind: 'token';
      subject: string;
      access: TokenAccess[];
      /** This registry's own replication (an in-process token with the system claim). */
      system?: true;
    };

/** Writes made by this registry's replication itself (no events, may state origin times). */
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
