import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { isRepositoryName } from '../domain/reference.js';
import type { RegistryAction } from '../domain/rbac.js';
import type { AccessService } from './access-service.js';
import type { Principal, TokenAccess } from './principal.js';
import { principalName } from './principal.js';
import { TOKEN_ALGORITHM, type TokenKeys } from './token-keys.js';

// The registry token service (Docker/OCI token authentication): a client presents credentials
// (or none) and the scopes it wants; the token lists only the actions the caller's roles allow.

export interface TokenSettings {
  issuer: string;
  service: string;
  expirationSeconds: number;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
}

const REGISTRY_ACTIONS: readonly RegistryAction[] = ['pull', 'push', 'delete'];

/** The claim that marks replication's in-process tokens (see issueSystem). */
const SYSTEM_CLAIM = 'wharf_system';

/** The subject of replication's in-process tokens (see issueSystem). */
export const SYSTEM_REPLICATION_SUBJECT = 'wharf:replication';

/** Parses `type:name:actions` (actions comma-separated); null for anything malformed. */
export function parseScope(scope: string): TokenAccess | null {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return null;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (!/^[a-z]+$/.test(type) || name.length === 0 || actions.length === 0) return null;
  return { type, name, actions };
}

export class TokenService {
  constructor(
    private readonly keys: TokenKeys,
    private readonly settings: TokenSettings,
    private readonly access: AccessService,
  ) {}

  get service(): string {
    return this.settings.service;
  }

  /** The access a principal gets for the requested scopes: requested ∩ allowed, per scope. */
  async grant(principal: Principal, scopes: readonly TokenAccess[]): Promise<TokenAccess[]> {
    const granted: TokenAccess[] = [];
    for (const scope of scopes) {
      if (scope.type === 'registry' && scope.name === 'catalog') {
        if (this.access.isSysadmin(principal))
          granted.push({ type: 'registry', name: 'catalog', actions: ['*'] });
        continue;
      }
      if (scope.type !== 'repository' || !isRepositoryName(scope.name)) continue;
      const projectName = scope.name.split('/')[0] as string;
      const project = await this.access.project(projectName);
      if (!project) continue;
      const wanted = scope.actions.includes('*') ? REGISTRY_ACTIONS : scope.actions;
      const actions: string[] = [];
      for (const action of REGISTRY_ACTIONS) {
        if (wanted.includes(action) && (await this.access.can(principal, project, 'repository', action))) {
          actions.push(action);
        }
      }
      if (actions.length > 0) granted.push({ type: 'repository', name: scope.name, actions });
    }
    return granted;
  }

  async issue(principal: Principal, access: readonly TokenAccess[]): Promise<IssuedToken> {
    const now = Math.floor(Date.now() / 1000);
    const system = principal.kind === 'token' && principal.system === true;
    const token = await new SignJWT({ access, ...(system && { [SYSTEM_CLAIM]: true }) })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: this.keys.signing.kid, typ: 'JWT' })
      .setIssuer(this.settings.issuer)
      .setSubject(principal.kind === 'anonymous' ? '' : principalName(principal))
      .setAudience(this.settings.service)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + this.settings.expirationSeconds)
      .setJti(randomUUID())
      .sign(this.keys.signing.key);
    return {
      token,
      expiresIn: this.settings.expirationSeconds,
      issuedAt: new Date(now * 1000).toISOString(),
    };
  }

  /**
   * In-process only (replication's own reads and writes of this registry over loopback): a token
   * for exactly the repository actions asked (`*` for all), for the system principal. It carries
   * the system claim, which only this method sets: writes made with it are recognisable (no
   * event loops) whatever the names of accounts (an imported one may look like the subject).
   */
  async issueSystem(
    wanted: ReadonlyArray<{ name: string; actions: readonly string[] }>,
  ): Promise<IssuedToken> {
    const access: TokenAccess[] = wanted.map(({ name, actions }) => ({
      type: 'repository',
      name,
      actions: actions.includes('*')
        ? [...REGISTRY_ACTIONS]
        : REGISTRY_ACTIONS.filter((a) => actions.includes(a)),
    }));
    return this.issue({ kind: 'token', subject: SYSTEM_REPLICATION_SUBJECT, access, system: true }, access);
  }

  /** Verifies signature, expiry, audience and issuer; returns the token's principal or null. */
  async verify(token: string): Promise<Principal | null> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return null;
    }
    const key = kid ? this.keys.verification.get(kid) : undefined;
    if (!key) return null;
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: this.settings.issuer,
        audience: this.settings.service,
        clockTolerance: 5,
      });
      const access = Array.isArray(payload.access) ? (payload.access as unknown[]).filter(isTokenAccess) : [];
      const system = payload[SYSTEM_CLAIM] === true;
      return { kind: 'token', subject: payload.sub ?? '', access, ...(system && { system: true as const }) };
    } catch {
      return null;
    }
  }
}

function isTokenAccess(value: unknown): value is TokenAccess {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.type === 'string' &&
    typeof v.name === 'string' &&
    Array.isArray(v.actions) &&
    v.actions.every((a) => typeof a === 'string')
  );
}
