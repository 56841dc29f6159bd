import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../domain/errors.js';
import { LoginThrottledError, type AuthService } from '../services/auth-service.js';
import { ANONYMOUS, atAddress, type Principal } from '../services/principal.js';
import type { TokenService } from '../services/token-service.js';

// Turns a request's Authorization header into a Principal, for every part of the HTTP edge.

/** Basic credentials; empty ones (some clients send them) count as none. */
export function basicCredentials(header: string | undefined): { username: string; password: string } | null {
  if (!header || !/^basic /i.test(header)) return null;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  return username === '' && password === '' ? null : { username, password };
}

/**
 * The caller, at its client address: anonymous without credentials; UNAUTHORIZED for credentials
 * or a token that do not check out (never silently anonymous, so a typo in a password is reported
 * as such).
 */
export async function resolvePrincipal(
  request: FastifyRequest,
  auth: AuthService,
  tokens: TokenService,
): Promise<Principal> {
  return atAddress(await credentialsPrincipal(request, auth, tokens), request.ip);
}

async function credentialsPrincipal(
  request: FastifyRequest,
  auth: AuthService,
  tokens: TokenService,
): Promise<Principal> {
  const header = request.headers.authorization;
  if (!header) return ANONYMOUS;
  if (/^basic /i.test(header)) {
    const credentials = basicCredentials(header);
    if (!credentials) return ANONYMOUS;
    let principal: Principal | null;
    try {
      principal = await auth.authenticate(credentials.username, credentials.password, request.ip);
    } catch (err) {
      if (err instanceof LoginThrottledError) {
        throw new RegistryError('TOOMANYREQUESTS', err.message, { retryAfterSeconds: err.retryAfterSeconds });
      }
      throw err;
    }
    if (!principal) throw new RegistryError('UNAUTHORIZED', 'invalid username or password');
    return principal;
  }
  if (/^bearer /i.test(header)) {
    const principal = await tokens.verify(header.slice(7).trim());
    if (!principal) throw new RegistryError('UNAUTHORIZED', 'invalid or expired token');
    return principal;
  }
  throw new RegistryError('UNAUTHORIZED', 'unsupported authorization scheme; use Basic or Bearer');
}
