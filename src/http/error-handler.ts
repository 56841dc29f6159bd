import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.js';
import {
  ERROR_CATALOGUE,
  harborCode,
  harborErrorBody,
  ociErrorBody,
  type OciCode,
} from './error-catalogue.js';

// The one error handler. Whatever a route, hook, content parser or Fastify itself throws is
// rendered here: in the OCI shape with a code of the spec's list on /v2, in Harbor's shape
// everywhere else (/api, /service, /c). Statuses and codes come from the catalogue only.

export interface ErrorHandlingOptions {
  /** The realm of the Basic challenge a 401 carries when the route did not set a challenge itself. */
  realm: string;
}

/** What the handler sends: status, the code for each shape, the message, and headers. */
interface Rendering {
  status: number;
  oci: OciCode;
  message: string;
  detail?: unknown;
  retryAfterSeconds?: number;
}

/** The methods the registry API (/v2) uses; its routes take these, anything else is a 405. */
export const OCI_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Installs the error handler and the handler of unknown routes on the root instance. */
export function registerErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) =>
    sendError(error, request, reply, options),
  );
  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request);
    if (isRegistryPath(path)) {
      // The /v2 routes take every method the API uses: anything else is an unsupported operation.
      reply.header('allow', OCI_METHODS.join(', '));
      send(request, reply, {
        status: 405,
        oci: 'UNSUPPORTED',
        message: `method ${request.method} is not supported by the registry API`,
      });
      return;
    }
    send(request, reply, {
      status: 404,
      oci: 'NAME_UNKNOWN',
      message: `no route for ${request.method} ${path}`,
    });
  });
}

/** Renders any thrown value as the answer of its path; also Fastify's `frameworkErrors` hook. */
export function sendError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
  options: ErrorHandlingOptions,
): void {
  const rendering = renderingOf(error, request);
  if (rendering.status === 401 && !reply.hasHeader('www-authenticate')) {
    // Every 401 carries a challenge; /v2 and the token service set a precise one before throwing.
    reply.header('www-authenticate', `Basic realm="${options.realm}", charset="UTF-8"`);
  }
  if (rendering.status === 416) rangeHeaders(reply, rendering.detail);
  send(request, reply, rendering);
}

function renderingOf(error: FastifyError | Error, request: FastifyRequest): Rendering {
  if (error instanceof DomainError) {
    const entry = ERROR_CATALOGUE[error.code];
    if (error.code === 'DATABASE_UNAVAILABLE')
      request.log.warn({ err: error.message }, 'database unavailable');
    if (error.code === 'INTERNAL') request.log.error({ err: error }, 'internal error');
    const retryAfter = retryAfterOf(error.detail) ?? entry.retryAfterSeconds;
    return {
      status: error.status ?? entry.status,
      oci: entry.oci,
      message: entry.publicMessage ?? internalMessage(error.code, request) ?? error.message,
      detail: error.detail,
      ...(retryAfter !== undefined && { retryAfterSeconds: retryAfter }),
    };
  }
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode;
  if (fastifyError.validation) {
    // A route schema refused the request (params, query, headers or body): the message names the field.
    return { status: 400, oci: validationCode(fastifyError.validationContext), message: error.message };
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // What Fastify refuses on its own (framing, media type, body size). On /v2 the body must carry
    // a code of the spec's list; UNSUPPORTED says "this request cannot be served".
    return { status, oci: status === 401 ? 'UNAUTHORIZED' : 'UNSUPPORTED', message: error.message };
  }
  request.log.error({ err: error }, 'unhandled error');
  return { status: 500, oci: 'UNKNOWN', message: `internal error; request id ${request.id}` };
}

function send(request: FastifyRequest, reply: FastifyReply, rendering: Rendering): void {
  if (rendering.retryAfterSeconds !== undefined && (rendering.status === 429 || rendering.status === 503)) {
    reply.header('retry-after', String(rendering.retryAfterSeconds));
  }
  drain(request);
  const body = isRegistryPath(pathOf(request))
    ? ociErrorBody(rendering.oci, rendering.message, rendering.detail)
    : harborErrorBody(harborCode(rendering.status), rendering.message);
  reply.code(rendering.status).send(body);
}

/** A schema refusal on /v2: a bad name or reference in the path, a bad manifest body, else unsupported. */
function validationCode(context: string | undefined): OciCode {
  if (context === 'params') return 'NAME_INVALID';
  if (context === 'body') return 'MANIFEST_INVALID';
  return 'UNSUPPORTED';
}

/** An INTERNAL error's own message is for the log; the client gets the request id to quote. */
function internalMessage(code: string, request: FastifyRequest): string | undefined {
  return code === 'INTERNAL' ? `internal error; request id ${request.id}` : undefined;
}

function retryAfterOf(detail: unknown): number | undefined {
  return isObject(detail) && typeof detail.retryAfterSeconds === 'number'
    ? detail.retryAfterSeconds
    : undefined;
}

/** A 416 says how much there is (a blob's size) or how much was received (an upload's offset). */
function rangeHeaders(reply: FastifyReply, detail: unknown): void {
  if (!isObject(detail)) return;
  if (typeof detail.size === 'number') reply.header('content-range', `bytes */${detail.size}`);
  if (typeof detail.offset === 'number') reply.header('range', `0-${Math.max(detail.offset - 1, 0)}`);
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?', 1)[0] as string;
}

/** The OCI Distribution API's paths; every other path answers in Harbor's shape. */
export function isRegistryPath(path: string): boolean {
  return path === '/v2' || path.startsWith('/v2/');
}

/** Discards an unread request body so the connection can be reused (or closed cleanly). */
function drain(request: FastifyRequest): void {
  if (!request.raw.readableEnded && !request.raw.destroyed) request.raw.resume();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
