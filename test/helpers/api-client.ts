// Small helpers for tests of the management API (/api/v2.0) and of logins.

/** The Authorization header for HTTP Basic. */
export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * A caller of one server: `call('POST', '/users', auth, body)` sends JSON to `${url}${prefix}${path}`
 * with the given Authorization (none when undefined).
 */
export function apiCaller(
  url: () => string,
  prefix = '/api/v2.0',
): (method: string, path: string, authorization: string | undefined, body?: unknown) => Promise<Response> {
  return (method, path, authorization, body) =>
    fetch(`${url()}${prefix}${path}`, {
      method,
      headers: {
        ...(authorization && { authorization }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
}

/** The numeric id at the end of a 201's Location header. */
export function createdId(res: Response): number {
  return Number(res.headers.get('location')?.split('/').pop());
}
