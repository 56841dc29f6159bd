import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { FastifyInstance } from 'fastify';

// A `fetch` that never leaves the process: each request goes through Fastify's `inject` and the
// answer comes back as a standard Response. Tests written against fetch (the /v2 client, the API
// callers) run unchanged on an app built in the test process, without sockets or a child process.

/** What the tests' clients need of fetch. */
export type Fetcher = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Statuses whose Response may carry no body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A fetch answered by `app.inject`. The request's host header is the URL's (the app builds token
 * realms and Location headers from it); `remoteAddress` is the client address the app sees.
 */
export function injectFetch(app: FastifyInstance, remoteAddress = '127.0.0.1'): Fetcher {
  return async (input, init = {}) => {
    const url = new URL(input);
    // A Request normalises headers and bodies the way fetch would (a string body gets text/plain).
    const request = new Request(url, {
      ...init,
      ...(init.body instanceof ReadableStream && { duplex: 'half' }),
    });
    const headers: Record<string, string> = { host: url.host };
    request.headers.forEach((value, name) => (headers[name] = value));
    const payload =
      request.body === null
        ? undefined
        : init.body instanceof ReadableStream
          ? Readable.fromWeb(request.body as NodeReadableStream<Uint8Array>)
          : Buffer.from(await request.arrayBuffer());
    const res = await app.inject({
      method: request.method,
      url: url.pathname + url.search,
      headers,
      remoteAddress,
      ...(payload !== undefined && { payload }),
    });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(name, String(one));
    }
    const empty = request.method === 'HEAD' || NULL_BODY_STATUSES.has(res.statusCode);
    const response = new Response(empty ? null : new Uint8Array(res.rawPayload), {
      status: res.statusCode,
      statusText: res.statusMessage,
      headers: responseHeaders,
    });
    // fetch's Response names its URL; tests print it in assertion messages.
    Object.defineProperty(response, 'url', { value: url.href });
    return response;
  };
}
