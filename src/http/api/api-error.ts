import { DomainError, type ErrorCode } from '../../domain/errors.js';

// An error a management-API route raises about the request itself (a bad id, a missing field).
// It is a DomainError like any other: the one error handler renders it in Harbor's shape.

export class ApiError extends DomainError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'ApiError';
  }
}
