import type { FastifyInstance } from 'fastify';
import { RegistryError } from '../../domain/errors.js';
import { resolvePrincipal } from '../credentials.js';
import type { OciAccessDeps } from '../oci/access.js';
import { queryValues } from '../oci/headers.js';
import { parseScope } from '../../services/token-service.js';
import { principalName, type TokenAccess } from '../../services/principal.js';
import type { AuditService } from '../../services/audit-service.js';

/**
 * GET /service/token?service=…&scope=…[&scope=…]: the Docker/OCI token endpoint. Credentials by
 * HTTP Basic (users and robots) or none (anonymous: public pulls only). Wrong credentials are a
 * 401, never an anonymous token, so a client learns its password is wrong.
 */
export function registerTokenRoute(app: FastifyInstance, deps: OciAccessDeps, audit: AuditService): void {
  app.get('/service/token', async (request, reply) => {
    const service = queryValues(request.query, 'service')[0];
    if (service !== undefined && service !== deps.tokens.service) {
      throw new RegistryError('UNSUPPORTED', `unknown service "${service.slice(0, 80)}"`, undefined, 400);
    }
    const principal = await resolvePrincipal(request, deps.auth, deps.tokens);
    if (principal.kind === 'token') {
      throw new RegistryError('UNAUTHORIZED', 'present credentials, not a token, to get a token');
    }
    // Several scopes may come as repeated parameters or space-separated in one.
    const scopes = queryValues(request.query, 'scope')
      .flatMap((s) => s.split(' '))
      .map(parseScope)
      .filter((s): s is TokenAccess => s !== null);
    const anonymousAllowed = deps.policy.anonymousPull || principal.kind !== 'anonymous';
    const access = anonymousAllowed ? await deps.tokens.grant(principal, scopes) : [];
    const issued = await deps.tokens.issue(principal, access);
    if (principal.kind === 'user' || principal.kind === 'robot') {
      // `docker login` and every authenticated token request: a login in the audit log.
      await audit.record({
        projectId: null,
        operator: principalName(principal),
        resourceType: 'user',
        resource: principalName(principal),
        operation: 'login',
        clientIp: request.ip,
      });
    }
    reply.header('cache-control', 'no-store').send({
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
    });
  });
}
