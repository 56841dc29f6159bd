import { parseChallenge, type Challenge } from './challenge.js';
import type { PeerCredential, RemoteCredential } from './config.js';
import { RemoteError, kindOfStatus } from './errors.js';
import { header, type HttpResponse, type Transport } from './transport.js';

// Authentication to a peer's /v2, as the distribution token spec describes it: the peer's answer
// to an unauthenticated GET /v2/ says how (no auth, Basic, or Bearer tokens from a realm); tokens
// are fetched with the credential for the scopes a request needs and kept until shortly before
// they expire, so a replication run costs one token request per repository, not one per request.
// The realm is named by the peer, so it is not trusted blindly: the stored credential goes only to
// a realm on the endpoint's own host (or one the configuration trusts for it), and an https
// endpoint's tokens are never fetched over plain http.

type Scheme =
  { kind: 'none' } | { kind: 'basic' } | { kind: 'bearer'; realm: string; service: string | undefined };

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Tokens are reused until this long before their expiry (at most 10% of their lifetime). */
const EXPIRY_MARGIN_MS = 30_000;
/** The distribution spec's default when the token service does not say. */
const DEFAULT_TOKEN_SECONDS = 60;
const MAX_CACHED_TOKENS = 1_000;

export function basicHeader(credential: RemoteCredential): string {
  return `Basic ${Buffer.from(`${credential.accessKey}:${credential.accessSecret}`).toString('base64')}`;
}

/** The scope a request on a repository needs, as token services name it. */
export function repositoryScope(name: string, actions: 'pull' | 'pull,push' | 'delete' | '*'): string {
  return `repository:${name}:${actions}`;
}

export const CATALOG_SCOPE = 'registry:catalog:*';

export class Authenticator {
  #scheme: Scheme | undefined;
  readonly #tokens = new Map<string, CachedToken>();
  /** The stored credential (none with a token source). */
  private readonly credential: RemoteCredential | null;
  readonly #source: PeerCredential | null;

  constructor(
    private readonly baseUrl: string,
    private readonly transport: Transport,
    credential: PeerCredential | null,
    private readonly now: () => number = Date.now,
  ) {
    this.#source = credential;
    this.credential = credential?.type === 'source' ? null : credential;
  }

  /** The Authorization header value for a /v2 request needing `scopes` (undefined: none). */
  async authorization(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    if (this.#source?.type === 'source') return `Bearer ${await this.#source.token(scopes, signal)}`;
    if (this.credential?.type === 'oauth') return `Bearer ${this.credential.accessSecret}`;
    const scheme = this.#scheme ?? (await this.probe(signal));
    switch (scheme.kind) {
      case 'none':
        return undefined;
      case 'basic':
        return this.credential ? basicHeader(this.credential) : undefined;
      case 'bearer':
        return `Bearer ${await this.token(scheme, scopes, signal)}`;
    }
  }

  /**
   * After a 401: learns the scheme the peer asks for and forgets the token used, so that one
   * retry can succeed. Returns the scopes to retry with (the challenge may name one more, e.g. the
   * source of a mount), or null when retrying cannot help.
   */
  challenged(res: HttpResponse, scopes: readonly string[]): string[] | null {
    const challenge = parseChallenge(header(res, 'www-authenticate'));
    // A ready token or a token source: nothing to negotiate.
    if (!challenge || this.credential?.type === 'oauth' || this.#source?.type === 'source') return null;
    const before = this.#scheme;
    const scheme = schemeOf(challenge);
    if (!scheme) return null;
    this.#scheme = scheme;
    const retry = [...scopes];
    const asked = challenge.params.scope;
    if (asked) for (const s of asked.split(' ')) if (!retry.includes(s)) retry.push(s);
    if (scheme.kind === 'bearer') {
      const hadToken = this.#tokens.delete(scopeKey(scopes));
      const changed = before?.kind !== 'bearer' || retry.length !== scopes.length;
      return hadToken || changed ? retry : null;
    }
    return scheme.kind === 'basic' && before?.kind !== 'basic' && this.credential ? retry : null;
  }

  /** GET /v2/ without credentials: how this peer wants to be authenticated. */
  async probe(signal?: AbortSignal): Promise<Scheme> {
    const url = `${this.baseUrl}/v2/`;
    const res = await this.transport.send({ method: 'GET', url, ...(signal && { signal }) });
    await res.body.dump();
    if (res.status >= 200 && res.status < 300) return (this.#scheme = { kind: 'none' });
    if (res.status === 401) {
      const challenge = parseChallenge(header(res, 'www-authenticate'));
      const scheme = challenge && schemeOf(challenge);
      if (scheme) return (this.#scheme = scheme);
      throw new RemoteError('other', `GET ${url}: 401 without a usable WWW-Authenticate challenge`, 401);
    }
    const kind = kindOfStatus(res.status);
    throw new RemoteError(
      kind === 'not-found' ? 'other' : kind,
      `GET ${url} answered ${res.status}: ${kind === 'not-found' ? 'not an OCI registry API' : 'failed'}`,
      res.status,
    );
  }

  async token(
    scheme: Extract<Scheme, { kind: 'bearer' }>,
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<string> {
    const key = scopeKey(scopes);
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > this.now()) return cached.token;
    const url = new URL(scheme.realm);
    this.checkRealm(url);
    if (scheme.service) url.searchParams.set('service', scheme.service);
    for (const scope of [...scopes].sort()) url.searchParams.append('scope', scope);
    const res = await this.transport.send({
      method: 'GET',
      url: url.toString(),
      headers: {
        accept: 'application/json',
        ...(this.credential && { authorization: basicHeader(this.credential) }),
      },
      ...(signal && { signal }),
    });
    if (res.status !== 200) {
      await res.body.dump();
      const kind = kindOfStatus(res.status);
      throw new RemoteError(
        kind === 'not-found' ? 'other' : kind,
        kind === 'unauthorized'
          ? `the token service ${url.origin}${url.pathname} refused the credentials (${res.status})`
          : `the token service ${url.origin}${url.pathname} answered ${res.status}`,
        res.status,
      );
    }
    const body = (await res.body.json().catch(() => null)) as {
      token?: unknown;
      access_token?: unknown;
      expires_in?: unknown;
    } | null;
    const token = typeof body?.token === 'string' ? body.token : body?.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new RemoteError('other', `the token service ${url.origin}${url.pathname} sent no token`, 200);
    }
    const seconds =
      typeof body?.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    const lifetimeMs = seconds * 1000;
    if (this.#tokens.size >= MAX_CACHED_TOKENS) this.#tokens.clear();
    this.#tokens.set(key, {
      token,
      expiresAt: this.now() + lifetimeMs - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 10),
    });
    return token;
  }

  /** Refuses a realm the credential must not reach (or that would downgrade https to http). */
  private checkRealm(realm: URL): void {
    const endpoint = new URL(this.baseUrl);
    const where = `${realm.origin}${realm.pathname}`;
    if (endpoint.protocol === 'https:' && realm.protocol !== 'https:') {
      throw new RemoteError(
        'other',
        `the peer names a plain-http token realm (${where}) for an https registry; refused`,
      );
    }
    if (realm.protocol !== 'http:' && realm.protocol !== 'https:') {
      throw new RemoteError(
        'other',
        `the peer names a token realm that is not http(s) (${realm.protocol}); refused`,
      );
    }
    if (!this.credential || realm.host === endpoint.host) return;
    if (this.transport.trustedRealmHosts.includes(realm.host)) return;
    throw new RemoteError(
      'other',
      `the peer names a token realm on another host (${where}); the credential of ${endpoint.host} is not sent ` +
        `there unless outbound.token_realms lists ${realm.host} for ${endpoint.host}`,
    );
  }

  /** What the last probe or challenge said, for ping's report. */
  get scheme(): Scheme['kind'] | undefined {
    return this.#scheme?.kind;
  }
}

function schemeOf(challenge: Challenge): Scheme | null {
  if (challenge.scheme === 'basic') return { kind: 'basic' };
  if (challenge.scheme === 'bearer' && challenge.params.realm) {
    try {
      new URL(challenge.params.realm);
    } catch {
      return null;
    }
    return { kind: 'bearer', realm: challenge.params.realm, service: challenge.params.service };
  }
  return null;
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}
