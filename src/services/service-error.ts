// Errors of the management services (projects, users, members, robots, audit). The HTTP edge maps
// each kind to a status and Harbor's error code (http/api/plugin.ts); services never know HTTP.

export type ServiceErrorKind =
  'invalid' | 'unauthorized' | 'forbidden' | 'not-found' | 'conflict' | 'precondition' | 'too-many-attempts';

export class ServiceError extends Error {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}
