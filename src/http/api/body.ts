import { ApiError } from './api-error.js';

// Small, strict readers for JSON request bodies and path ids: wrong types are a 400 that names
// the field, before anything reaches a service.

export function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('BAD_REQUEST', 'the request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ApiError('BAD_REQUEST', `${field} must be a string`);
  return value;
}

export function requiredString(body: Record<string, unknown>, field: string): string {
  const value = optionalString(body, field);
  if (value === undefined || value === '') throw new ApiError('BAD_REQUEST', `${field} is required`);
  return value;
}

export function pathId(params: unknown, name: string): number {
  const raw = (params as Record<string, string>)[name];
  if (raw === undefined || !/^\d{1,15}$/.test(raw))
    throw new ApiError('BAD_REQUEST', `${name} must be a numeric id`);
  return Number(raw);
}
