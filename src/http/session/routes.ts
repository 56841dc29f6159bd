import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { validationMessage } from '../validation-message.js';
import { LoginThrottledError } from '../../services/auth-service.js';
import { ServiceError } from '../../services/service-error.js';
import type { SessionService } from '../../services/session-service.js';

// Harbor's portal login: POST /c/login (form: principal, password) sets the session cookie;
// /c/log_out ends it. The CSRF token comes back in X-Harbor-CSRF-Token and must accompany every
// cookie-authenticated write to the API, and the logout too (else any site could sign users out).

export const SESSION_COOKIE = 'sid';
export const CSRF_HEADER = 'x-harbor-csrf-token';

/** Reads one cookie from the Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const REQUIRED = 'principal and password are required';

/** The login form (or JSON): a name PostgreSQL text cannot hold (NUL, lone surrogates) is refused here. */
const loginForm = z.object(
  {
    principal: z
      .string({ error: REQUIRED })
      .min(1, REQUIRED)
      .refine((v) => !v.includes('\0'), 'NUL characters are not accepted in names')
      // A lone UTF-16 surrogate is no text: no account is named so, and JSON columns refuse it.
      .refine((v) => !/\p{Cs}/u.test(v), 'principal must be well-formed text'),
    password: z.string({ error: REQUIRED }).min(1, REQUIRED),
  },
  { error: REQUIRED },
);

function sessionCookie(token: string, secure: boolean, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

export async function registerSessionRoutes(app: FastifyInstance, sessions: SessionService): Promise<void> {
  await app.register(async (c) => {
    c.addContentTypeParser(
      ['application/x-www-form-urlencoded', 'application/json'],
      { parseAs: 'string', bodyLimit: 16 * 1024 },
      (request, body, done) => {
        try {
          const text = body.toString();
          const parsed: unknown = request.headers['content-type']?.startsWith('application/json')
            ? JSON.parse(text || '{}')
            : Object.fromEntries(new URLSearchParams(text));
          done(null, parsed);
        } catch {
          done(new ServiceError('invalid', 'the login form could not be read'), undefined);
        }
      },
    );

    c.setValidatorCompiler(validatorCompiler);
    c.setSchemaErrorFormatter((errors, dataVar) => new Error(validationMessage(errors, dataVar)));
    c.withTypeProvider<ZodTypeProvider>().post(
      '/c/login',
      { schema: { body: loginForm } },
      async (request, reply) => {
        const { principal: username, password } = request.body;
        let session;
        try {
          session = await sessions.login(username, password, request.ip);
        } catch (err) {
          if (err instanceof LoginThrottledError) {
            reply.header('retry-after', String(err.retryAfterSeconds));
            throw new ServiceError('too-many-attempts', err.message);
          }
          throw err;
        }
        reply
          .header(
            'set-cookie',
            sessionCookie(
              session.token,
              sessions.secureCookie(request.protocol),
              sessions.cookieMaxAgeSeconds,
            ),
          )
          .header(CSRF_HEADER, session.csrfToken)
          .send();
      },
    );

    const logout = async (request: FastifyRequest, reply: FastifyReply) => {
      const token = cookieValue(request.headers.cookie, SESSION_COOKIE);
      const csrf = request.headers[CSRF_HEADER];
      if (token) await sessions.logout(token, typeof csrf === 'string' ? csrf : undefined);
      const secure = sessions.secureCookie(request.protocol) ? '; Secure' : '';
      reply
        .header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure}`)
        .send();
    };
    c.get('/c/log_out', logout);
    c.post('/c/log_out', logout);
  });
}
