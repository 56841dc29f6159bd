import { z } from 'zod';
import { MAX_API_PAGE } from './paging.js';

// Zod building blocks of the management API's route schemas. Each names its field in its
// message ("speed must be an integer"), the words the API answered with before the schemas, so
// a validation failure is a 400 that says which field is wrong and why.

const absent = (input: unknown) => input === undefined || input === null;

/** A JSON object body; fields are checked by the shape, unknown fields are dropped (as Harbor). */
export function jsonBody<S extends z.ZodRawShape>(shape: S) {
  return z.object(shape, { error: 'the request body must be a JSON object' });
}

/** A JSON object whose fields are all kept (settings and metadata maps checked by services). */
export function jsonMap(what = 'the request body') {
  return z.record(z.string(), z.unknown(), { error: `${what} must be a JSON object` });
}

/** A string that may be absent or null (both read as absent). */
export function optionalString(field: string) {
  return z
    .string({ error: `${field} must be a string` })
    .nullish()
    .transform((v) => v ?? undefined);
}

/** A string that must be given and not empty. */
export function requiredString(field: string) {
  return z
    .string({
      error: (issue) => (absent(issue.input) ? `${field} is required` : `${field} must be a string`),
    })
    .min(1, `${field} is required`);
}

/** true or false, absent or null read as absent. */
export function optionalBoolean(field: string) {
  return z
    .boolean({ error: `${field} must be true or false` })
    .nullish()
    .transform((v) => v ?? undefined);
}

/** A whole number, absent or null read as absent. */
export function optionalInteger(field: string) {
  return z
    .number({ error: `${field} must be an integer` })
    .int(`${field} must be an integer`)
    .nullish()
    .transform((v) => v ?? undefined);
}

/** A numeric id in the path (/users/{user_id}). */
export function pathId(name: string) {
  return z
    .string()
    .regex(/^\d{1,15}$/, `${name} must be a numeric id`)
    .transform(Number);
}

/** A path segment taken as written (names, references, job types). */
export const pathSegment = z.string();

/** A query flag: "true" or "false", absent or empty meaning the default. */
export function booleanQuery(name: string, fallback: boolean) {
  return z
    .enum(['true', 'false', ''], { error: `${name} must be true or false` })
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : v === 'true'));
}

/** A query value from a fixed list; absent or empty means no filter. */
export function queryEnum<T extends string>(name: string, allowed: readonly [T, ...T[]]) {
  return z
    .union([z.enum(allowed), z.literal('')], { error: `${name} must be one of ${allowed.join(', ')}` })
    .optional()
    .transform((v) => (v === '' ? undefined : v));
}

/** An optional query string; empty reads as absent. */
export const queryText = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

function pageNumber(name: string, max: number) {
  const range = Number.isFinite(max) ? `an integer from 1 to ${max}` : 'a positive integer';
  const message = `${name} must be ${range}`;
  return z
    .string({ error: message })
    .optional()
    .refine(
      (v) => v === undefined || v === '' || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= max),
      message,
    )
    .transform((v) => (v === undefined || v === '' ? undefined : Number(v)));
}

/** Harbor's paging parameters (?page=1&page_size=10) and its `q` filter. */
export const pageQuery = {
  page: pageNumber('page', MAX_API_PAGE),
  page_size: pageNumber('page_size', Number.POSITIVE_INFINITY),
  q: z.string().optional(),
};
