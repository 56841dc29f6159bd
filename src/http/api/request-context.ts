import type { FastifyReply, FastifyRequest } from 'fastify';
import { ANONYMOUS, atAddress, isSignedIn } from '../../services/principal.js';
import { SessionService } from '../../services/session-service.js';
import { resolvePrincipal } from '../credentials.js';
import { CSRF_HEADER, SESSION_COOKIE, cookieValue } from '../session/routes.js';
import { ApiError } from './api-error.js';
import type { ApiDeps } from './plugin.js';

// What every management-API request goes through before its route: the JSON body parsed (NUL
// refused), and the caller resolved once (Basic for users and robots, or a session cookie).

const READ_METHODS = ['GET', 'HEAD', 'OPTIONS'];

const NUL_MESSAGE = 'NUL characters are not accepted in names, filters or fields';

const MALFORMED_MESSAGE = 'text fields must be well-formed Unicode (no lone surrogates)';

type Done = (err: Error | null, body?: unknown) => void;

/** JSON bodies; an empty one reads as {}. Text PostgreSQL cannot hold (NUL, lone surrogates) is a 400. */
export function parseJsonBody(_request: FastifyRequest, body: string | Buffer, done: Done): void {
  if (body === '') return done(null, {});
  let nul = false;
  let malformed = false;
  const check = (text: string) => {
    if (text.includes('\0')) nul = true;
    // A lone UTF-16 surrogate (JSON's "\ud800") is no text; JSON columns refuse it too.
    if (/\p{Cs}/u.test(text)) malformed = true;
  };
  try {
    const parsed: unknown = JSON.parse(body.toString(), (key, value: unknown) => {
      check(key);
      if (typeof value === 'string') check(value);
      return value;
    });
    if (nul) return done(new ApiError('BAD_REQUEST', NUL_MESSAGE), undefined);
    if (malformed) return done(new ApiError('BAD_REQUEST', MALFORMED_MESSAGE), undefined);
    done(null, parsed);
  } catch {
    done(new ApiError('BAD_REQUEST', 'the request body is not valid JSON'), undefined);
  }
}

/** The same for the path and the query (ids, names, filters), before any route reads them. */
export async function refuseNulInUrl(request: FastifyRequest): Promise<void> {
  if (/%00/i.test(request.url)) throw new ApiError('BAD_REQUEST', NUL_MESSAGE);
}

/**
 * Settles who is calling before the body is read (onRequest), so an anonymous write, which no
 * API route allows, is refused without reading what it sends.
 */
export function callerResolver(deps: Pick<ApiDeps, 'auth' | 'tokens' | 'sessions'>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    let principal = await resolvePrincipal(request, deps.auth, deps.tokens);
    // A registry token speaks for /v2 repositories only, never for an account: here it is
    // no credential at all (Harbor's API does not take them either).
    if (principal.kind === 'token') principal = ANONYMOUS;
    const sessionToken = request.headers.authorization
      ? undefined
      : cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (principal.kind === 'anonymous' && sessionToken) {
      const session = await deps.sessions.resolve(sessionToken);
      if (session) {
        // Cookies are sent by browsers on their own: a write must also prove it came from
        // our page by echoing the CSRF token that only our page can read.
        if (!READ_METHODS.includes(request.method)) {
          const given = request.headers[CSRF_HEADER];
          if (!SessionService.csrfMatches(session.csrfToken, typeof given === 'string' ? given : undefined)) {
            throw new ApiError('FORBIDDEN', 'CSRF token missing or invalid');
          }
        }
        reply.header(CSRF_HEADER, session.csrfToken);
        principal = session.principal;
      }
    }
    // Stamped again: a session's principal (or anonymous in place of a token) came without it.
    principal = atAddress(principal, request.ip);
    Object.defineProperty(request, 'principal', { value: principal, configurable: true });
    if (!isSignedIn(principal) && !READ_METHODS.includes(request.method)) {
      throw new ApiError('UNAUTHORIZED', 'authentication required');
    }
  };
}
