import type { Readable } from 'node:stream';
import { Authenticator, basicHeader } from './auth.js';
import type { PeerCredential } from './config.js';
import { RemoteError, kindOfStatus } from './errors.js';
import { header, type HttpMethod, type HttpResponse, type Transport } from './transport.js';

// Requests to one peer with authentication, one retry after a challenge (when the body can be
// sent again), redirects for reads, and failures read into typed RemoteErrors that carry the
// peer's OCI error code and message.

export interface PeerRequest {
  method: HttpMethod;
  /** A path on the peer (/v2/…) or an absolute URL it gave (an upload location, a next link). */
  path: string;
  /** Token scopes the request needs (empty for the base endpoint). */
  scopes: readonly string[];
  headers?: Record<string, string>;
  body?: Buffer | Readable | null;
  signal?: AbortSignal;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
/** Enough of an error body to show its message; the rest is not read. */
const MAX_ERROR_BODY = 64 * 1024;

export class PeerHttp {
  readonly auth: Authenticator;
  readonly #origin: string;

  constructor(
    readonly baseUrl: string,
    readonly transport: Transport,
    private readonly credential: PeerCredential | null,
  ) {
    this.auth = new Authenticator(baseUrl, transport, credential);
    this.#origin = new URL(baseUrl).origin;
  }

  resolve(path: string): string {
    return /^https?:\/\//i.test(path) ? path : `${this.baseUrl}${path}`;
  }

  /** Sends with credentials; the response may have any status (see `expect`). */
  async send(req: PeerRequest): Promise<HttpResponse> {
    let url = this.resolve(req.path);
    let scopes = req.scopes;
    let retried = false;
    for (let hops = 0; ;) {
      const sameOrigin = new URL(url).origin === this.#origin;
      const authorization = sameOrigin ? await this.auth.authorization(scopes, req.signal) : undefined;
      const res = await this.transport.send({
        method: req.method,
        url,
        headers: { ...req.headers, ...(authorization && { authorization }) },
        body: req.body ?? null,
        ...(req.signal && { signal: req.signal }),
      });
      const replayable = req.body === undefined || req.body === null || Buffer.isBuffer(req.body);
      if (res.status === 401 && sameOrigin && !retried && replayable) {
        const retryScopes = this.auth.challenged(res, scopes);
        if (retryScopes) {
          await res.body.dump();
          scopes = retryScopes;
          retried = true;
          continue;
        }
      }
      const location = header(res, 'location');
      if ((req.method === 'GET' || req.method === 'HEAD') && REDIRECTS.has(res.status) && location) {
        if (++hops > MAX_REDIRECTS) {
          await res.body.dump();
          throw new RemoteError('other', `${req.method} ${url}: too many redirects`, res.status);
        }
        await res.body.dump();
        url = new URL(location, url).toString();
        continue;
      }
      return res;
    }
  }

  /** Sends and checks the status; any other status becomes a RemoteError (body consumed). */
  async expect(req: PeerRequest, ok: readonly number[]): Promise<HttpResponse> {
    const res = await this.send(req);
    if (ok.includes(res.status)) return res;
    throw await this.failure(res, `${req.method} ${this.display(req.path)}`);
  }

  /** A failed response as a RemoteError with the peer's OCI (or Harbor) error code and message. */
  async failure(res: HttpResponse, what: string): Promise<RemoteError> {
    let code: string | undefined;
    let detail = '';
    try {
      const text = (await readLimited(res.body, MAX_ERROR_BODY)).toString('utf8');
      const parsed = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
      const first = parsed.errors?.[0];
      if (typeof first?.code === 'string') code = first.code;
      if (typeof first?.message === 'string') detail = first.message;
    } catch {
      // Not JSON (or no body): the status says enough.
    }
    const message = `${what} answered ${res.status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}`;
    return new RemoteError(res.status >= 400 ? kindOfStatus(res.status) : 'other', message, res.status, code);
  }

  /** The Authorization header for the peer's management API (/api/v2.0): no token dance there. */
  async apiAuthorization(signal?: AbortSignal): Promise<string | undefined> {
    if (!this.credential) return undefined;
    switch (this.credential.type) {
      case 'oauth':
        return `Bearer ${this.credential.accessSecret}`;
      case 'source':
        return `Bearer ${await this.credential.token([], signal)}`;
      case 'basic':
        return basicHeader(this.credential);
    }
  }

  /** GET of JSON from the peer's management API, with its paging headers. */
  async apiGet<T>(
    path: string,
    signal?: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<{ body: T; res: HttpResponse }> {
    const url = this.resolve(path);
    // Like send: the credential goes to the endpoint's own origin only, whatever URL a peer gave.
    const authorization =
      new URL(url).origin === this.#origin ? await this.apiAuthorization(signal) : undefined;
    const res = await this.transport.send({
      method: 'GET',
      url,
      headers: { ...headers, accept: 'application/json', ...(authorization && { authorization }) },
      ...(signal && { signal }),
    });
    if (res.status !== 200) throw await this.failure(res, `GET ${this.display(path)}`);
    try {
      return { body: (await res.body.json()) as T, res };
    } catch (err) {
      throw new RemoteError('other', `GET ${this.display(path)}: the answer is not JSON`, 200, undefined, {
        cause: err,
      });
    }
  }

  /** A path or URL for messages: no query string (upload states, tokens) in logs. */
  display(path: string): string {
    const url = new URL(this.resolve(path));
    return `${url.origin}${url.pathname}`;
  }
}

/** Reads at most `limit` bytes of a body, then drops the rest. */
export async function readLimited(body: HttpResponse['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit);
}
