import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../domain/errors.js';
import { eventActor } from '../../services/principal.js';
import { uploadOwner } from '../../services/registry/upload-service.js';
import type { AppDeps, AppPart } from '../app-deps.js';
import { OCI_METHODS } from '../error-handler.js';
import { authorizeOci, mayPull, mayStateOrigins } from './access.js';
import { handleOciRoute, type OciAuditEvent } from './handlers.js';
import { parseOciPath } from './routes.js';

// The /v2 API: every path is matched by parseOciPath (routes.ts), authorized, then handled.

export const ociRoutes: AppPart = (app, deps) => {
  const handler = (request: FastifyRequest, reply: FastifyReply) => handleOci(deps, request, reply);
  app.route({ method: [...OCI_METHODS], url: '/v2', handler });
  app.route({ method: [...OCI_METHODS], url: '/v2/*', handler });
};

async function handleOci(deps: AppDeps, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const path = request.url.split('?', 1)[0] as string;
  const route = parseOciPath(path);
  if (!route) {
    throw new RegistryError(
      'NAME_INVALID',
      `no registry endpoint matches ${path.slice(0, 200)}`,
      undefined,
      404,
    );
  }
  const principal = await authorizeOci(request, reply, route, deps.ociAccess);
  // Pushes and deletes record their events in the artifact core's own transaction (audit reads
  // them from the outbox); pulls are batched into `artifact.pulled` events: no query here.
  const audit = async (event: OciAuditEvent) => {
    if (event.operation !== 'pull' || !event.digest) return;
    const { repository, digest } = event;
    deps.pullStats.record({
      repository,
      digest,
      tag: event.tag ?? null,
      actor: eventActor(principal),
    });
  };
  await handleOciRoute(
    {
      ...deps.oci,
      mayPullFrom: (name) => mayPull(principal, name, deps.ociAccess),
      mayStateOrigins: () => mayStateOrigins(principal, deps.ociAccess),
      uploadOwner: uploadOwner(principal),
      actor: eventActor(principal),
      audit,
    },
    route,
    request,
    reply,
  );
}
