import { ApiError } from './api-error.js';

// Harbor's `q` query syntax for list endpoints: comma-separated `key=value` (exact),
// `key=~value` (fuzzy), `key=[min~max]` (range), `key={v1 v2}` (any of), `key=(v1 v2)` (all of).

export interface HarborQuery {
  exact: Record<string, string>;
  fuzzy: Record<string, string>;
  range: Record<string, { min?: string; max?: string }>;
  anyOf: Record<string, string[]>;
  allOf: Record<string, string[]>;
}

/** Longest `q` accepted: far above any real filter, and bounds the work of splitting it. */
export const MAX_QUERY_LENGTH = 4096;

export function parseHarborQuery(q: string | undefined): HarborQuery {
  const result: HarborQuery = { exact: {}, fuzzy: {}, range: {}, anyOf: {}, allOf: {} };
  if (!q) return result;
  const decoded = decodeURIComponentSafe(q);
  // The second decoding can make a NUL (`%2500`) that the API's check of the raw URL did not see;
  // PostgreSQL text cannot hold one, so it is refused here, as is a query no filter needs.
  if (decoded.includes('\0')) throw new ApiError('BAD_REQUEST', 'q must not contain NUL characters');
  if (decoded.length > MAX_QUERY_LENGTH) {
    throw new ApiError('BAD_REQUEST', `q is longer than ${MAX_QUERY_LENGTH} characters`);
  }
  for (const part of splitTopLevel(decoded)) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      throw new ApiError('BAD_REQUEST', `invalid query "${part.slice(0, 100)}": expected key=value`);
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!/^[a-z_][a-z0-9_.]*$/i.test(key))
      throw new ApiError('BAD_REQUEST', `invalid query key "${key.slice(0, 100)}"`);
    if (value.startsWith('~')) result.fuzzy[key] = value.slice(1);
    else if (value.startsWith('[') && value.endsWith(']')) {
      const [min, max] = value
        .slice(1, -1)
        .split('~')
        .map((s) => s.trim());
      result.range[key] = { ...(min && { min }), ...(max && { max }) };
    } else if (value.startsWith('{') && value.endsWith('}')) {
      result.anyOf[key] = value.slice(1, -1).split(' ').filter(Boolean);
    } else if (value.startsWith('(') && value.endsWith(')')) {
      result.allOf[key] = value.slice(1, -1).split(' ').filter(Boolean);
    } else result.exact[key] = value;
  }
  return result;
}

/** Splits on commas outside brackets, braces and parentheses. */
function splitTopLevel(q: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of q) {
    if ('[{('.includes(ch)) depth++;
    if (']})'.includes(ch)) depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      if (current.trim()) parts.push(current);
      current = '';
    } else current += ch;
  }
  if (current.trim()) parts.push(current);
  return parts;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
