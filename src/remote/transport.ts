import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { DEFAULT_OUTBOUND_GUARD, outboundRefusal } from '../net/outbound-guard.js';
import { DEFAULT_TIMEOUT_MS, type RemoteRegistryConfig } from './config.js';
import { RemoteError } from './errors.js';

// One peer's HTTP: a connection pool with that peer's TLS settings, every request bounded in time,
// network failures turned into RemoteError('unreachable'). undici's request API rather than fetch:
// it takes a dispatcher (the TLS options), streams bodies both ways as Node streams, and does not
// follow redirects on its own (the client does, dropping credentials when the origin changes).
// Every connection, to the peer or to a token realm it names, passes the outbound guard.

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  url: string;
  headers?: Record<string, string>;
  /** A Buffer can be sent again (after an auth challenge); a stream only once. */
  body?: Buffer | Readable | null;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Must be consumed or dumped: the connection returns to the pool only then. */
  body: Dispatcher.ResponseData['body'];
}

/** A header's single value (the first one when repeated). */
export function header(res: Pick<HttpResponse, 'headers'>, name: string): string | undefined {
  const value = res.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause && cause !== err ? errorCode(cause) : undefined;
}

export class Transport {
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  /** Hosts besides the peer's own whose token realm may receive the credential. */
  readonly trustedRealmHosts: readonly string[];

  constructor(
    config: Pick<
      RemoteRegistryConfig,
      'insecure' | 'caCertificate' | 'timeoutMs' | 'outbound' | 'trustedRealmHosts'
    >,
  ) {
    this.#timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.trustedRealmHosts = config.trustedRealmHosts ?? [];
    const ca = config.caCertificate ? [...rootCertificates, config.caCertificate] : undefined;
    const guard = config.outbound ?? DEFAULT_OUTBOUND_GUARD;
    this.#agent = new Agent({
      connect: guard.connector({
        timeout: this.#timeoutMs,
        rejectUnauthorized: !config.insecure,
        ...(ca && { ca }),
      }),
      // Both bound idleness, not total duration: a large blob may take long, a silent peer may not.
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    try {
      const res = await request(req.url, {
        dispatcher: this.#agent,
        method: req.method,
        headers: req.headers ?? {},
        body: req.body ?? null,
        signal: req.signal ?? null,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      throw this.networkError(err, req);
    }
  }

  /** A failure to talk to the peer at all, typed; the caller's own abort passes through. */
  networkError(err: unknown, req: Pick<HttpRequest, 'method' | 'url' | 'signal'>): unknown {
    if (req.signal?.aborted) return err;
    if (err instanceof RemoteError) return err;
    const code = errorCode(err);
    const target = `${req.method} ${new URL(req.url).origin}`;
    // A policy decision, not an outage: retrying would only be refused again.
    const refused = outboundRefusal(err);
    if (refused)
      return new RemoteError('other', `${target}: ${refused.message}`, undefined, undefined, { cause: err });
    if (code && TLS_CODES.has(code)) {
      return new RemoteError(
        'other',
        `${target}: the peer's TLS certificate is not trusted (${code}); give its CA bundle or mark it insecure`,
        undefined,
        undefined,
        { cause: err },
      );
    }
    const reason = code ?? (err instanceof Error ? err.message : String(err));
    return new RemoteError('unreachable', `${target}: ${reason}`, undefined, undefined, { cause: err });
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}
