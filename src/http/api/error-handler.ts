import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../domain/errors.js';
import { DatabaseUnavailableError } from '../../metadata/database.js';
import { ServiceError, type ServiceErrorKind } from '../../services/service-error.js';
import { ApiError, apiErrorBody, type ApiErrorCode } from './api-error.js';

// Maps whatever a management-API (or login) handler throws to Harbor's error shape.

const KIND_TO_CODE: Record<ServiceErrorKind, ApiErrorCode> = {
  invalid: 'BAD_REQUEST',
  unauthorized: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  'not-found': 'NOT_FOUND',
  conflict: 'CONFLICT',
  precondition: 'PRECONDITION',
  'too-many-attempts': 'TOO_MANY_REQUESTS',
};

function toApiError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  if (error instanceof ServiceError) return new ApiError(KIND_TO_CODE[error.kind], error.message);
  if (error instanceof RegistryError && error.code === 'UNAUTHORIZED') {
    return new ApiError('UNAUTHORIZED', error.message);
  }
  if (error instanceof RegistryError && error.code === 'TOOMANYREQUESTS') {
    return new ApiError('TOO_MANY_REQUESTS', error.message);
  }
  const status = (error as FastifyError | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError('BAD_REQUEST', (error as Error).message);
  }
  return null;
}

/** The one error handler of the management API (and the login routes): Harbor's error shape. */
export function sendApiError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const apiError = toApiError(error);
  if (apiError) {
    // A throttled login (Basic on the API) says when to come back, as on /v2.
    const retryAfter = (error as { detail?: { retryAfterSeconds?: unknown } }).detail?.retryAfterSeconds;
    if (apiError.status === 429 && typeof retryAfter === 'number')
      reply.header('retry-after', String(retryAfter));
    if (apiError.status === 401) reply.header('www-authenticate', 'Basic realm="Wharf", charset="UTF-8"');
    reply.code(apiError.status).send(apiErrorBody(apiError.code, apiError.message));
    return;
  }
  if (error instanceof DatabaseUnavailableError) {
    reply
      .code(503)
      .header('retry-after', '5')
      .send(apiErrorBody('SERVICE_UNAVAILABLE', 'the metadata database is unavailable; retry later'));
    return;
  }
  request.log.error({ err: error }, 'unhandled API error');
  reply.code(500).send(apiErrorBody('INTERNAL_SERVER_ERROR', `internal error; request id ${request.id}`));
}
