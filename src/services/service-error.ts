import { DomainError, type ErrorCode } from '../domain/errors.js';

// Errors of the management services (projects, users, members, robots, audit), by kind. A kind
// is only a short name for a catalogue code; the HTTP edge renders the code like any DomainError.

export type ServiceErrorKind =
  'invalid' | 'unauthorized' | 'forbidden' | 'not-found' | 'conflict' | 'precondition' | 'too-many-attempts';

const KIND_CODE: Record<ServiceErrorKind, ErrorCode> = {
  invalid: 'BAD_REQUEST',
  unauthorized: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  'not-found': 'NOT_FOUND',
  conflict: 'CONFLICT',
  precondition: 'PRECONDITION',
  'too-many-attempts': 'TOOMANYREQUESTS',
};

export class ServiceError extends DomainError {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
  ) {
    super(KIND_CODE[kind], message);
    this.name = 'ServiceError';
  }
}
