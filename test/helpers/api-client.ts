// Small helpers for tests of the management API (/api/v2.0) and of logins.

import type { Fetcher } from './inject-fetch.js';

/** The Authorization header for HTTP Basic. */
export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** Where an API caller sends requests: a server's URL, or an in-process app's URL and fetch. */
export type ApiTarget = string | { url: string; fetch: Fetcher };

/**
 * A caller of one server: `call('POST', '/users', auth, body)` sends JSON to `${url}${prefix}${path}`
 * with the given Authorization (none when undefined), through the target's fetch when it has one
 * (an in-process app, see in-process-wharf.ts), else the global fetch.
 */
export function apiCaller(
  target: () => ApiTarget,
  prefix = '/api/v2.0',
): (method: string, path: string, authorization: string | undefined, body?: unknown) => Promise<Response> {
  return (method, path, authorization, body) => {
    const current = target();
    const [url, send] = typeof current === 'string' ? [current, fetch] : [current.url, current.fetch];
    return send(`${url}${prefix}${path}`, {
      method,
      headers: {
        ...(authorization && { authorization }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  };
}

/** The numeric id at the end of a 201's Location header. */
export function createdId(res: Response): number {
  return Number(res.headers.get('location')?.split('/').pop());
}
