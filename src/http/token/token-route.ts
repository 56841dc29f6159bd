import type { FastifyInstance, FastifyReply } from 'fastify';
import { RegistryError } from '../../domain/errors.js';
import { resolvePrincipal } from '../credentials.js';
import type { OciAccessDeps } from '../oci/access.js';
import { queryValues } from '../oci/headers.js';
import { parseScope } from '../../services/token-service.js';
import type { TokenAccess } from '../../services/principal.js';

/**
 * GET /service/token?service=…&scope=…[&scope=…]: the Docker/OCI token endpoint. Credentials by
 * HTTP Basic (users and robots) or none (anonymous: public pulls only, and no token at all when
 * auth.require_signin is on). Wrong credentials are a 401, never an anonymous token, so a client
 * learns its password is wrong.
 */
export function registerTokenRoute(app: FastifyInstance, deps: OciAccessDeps): void {
  app.get('/service/token', async (request, reply) => {
    const service = queryValues(request.query, 'service')[0];
    if (service !== undefined && service !== deps.tokens.service) {
      throw new RegistryError('UNSUPPORTED', `unknown service "${service.slice(0, 80)}"`, undefined, 400);
    }
    const principal = await resolvePrincipal(request, deps.auth, deps.tokens).catch((err: unknown) => {
      if (err instanceof RegistryError && err.code === 'UNAUTHORIZED') basicChallenge(reply, deps);
      throw err;
    });
    if (principal.kind === 'token') {
      basicChallenge(reply, deps);
      throw new RegistryError('UNAUTHORIZED', 'present credentials, not a token, to get a token');
    }
    if (principal.kind === 'anonymous' && deps.access.requireSignIn) {
      basicChallenge(reply, deps);
      throw new RegistryError(
        'UNAUTHORIZED',
        'this registry requires sign-in for every request (auth.require_signin): present credentials',
      );
    }
    // Several scopes may come as repeated parameters or space-separated in one.
    const scopes = queryValues(request.query, 'scope')
      .flatMap((s) => s.split(' '))
      .map(parseScope)
      .filter((s): s is TokenAccess => s !== null);
    const access = await deps.tokens.grant(principal, scopes);
    const issued = await deps.tokens.issue(principal, access);
    // A token fetch is not a login (docker login fetches one, and so does every pull and push):
    // the audit log records session sign-ins only, and the pushes and pulls themselves.
    reply.header('cache-control', 'no-store').send({
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
    });
  });
}

/** The token service takes HTTP Basic credentials: a 401 from it says so (RFC 7235). */
function basicChallenge(reply: FastifyReply, deps: OciAccessDeps): void {
  reply.header('www-authenticate', `Basic realm="${deps.policy.realm}", charset="UTF-8"`);
}
