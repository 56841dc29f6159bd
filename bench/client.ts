import { createHash } from 'node:crypto';

// A small OCI Distribution client for the bench: blob and manifest pushes, with whatever auth the
// registry asks for (none, Basic, or a Bearer token from the realm named in the challenge).

export interface Credentials {
  username: string;
  password: string;
}

/** No single request of the bench (at most a few MiB) may take longer. */
const REQUEST_TIMEOUT_MS = 60_000;

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** `key="value"` pairs of a WWW-Authenticate challenge, keys in lower case. */
function challengeParams(header: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const match of header.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) {
    params.set((match[1] ?? '').toLowerCase(), match[2] ?? '');
  }
  return params;
}

function basic(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

export class RegistryClient {
  readonly baseUrl: string;
  readonly credentials: Credentials | undefined;
  /** Manifests pushed by pushSmallImage, by `repo:tag`. */
  readonly pushedManifests = new Map<string, string>();
  /** Authorization header value per scope, learnt from the first challenge. */
  private readonly authByScope = new Map<string, string>();

  constructor(baseUrl: string, credentials: Credentials | undefined) {
    this.baseUrl = baseUrl;
    this.credentials = credentials;
  }

  /** fetch, bounded in time, with errors that name the request. */
  private async send(url: string | URL, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new Error(`${init.method ?? 'GET'} ${String(url)} failed: ${String(err)}${cause}`, {
        cause: err,
      });
    }
  }

  /**
   * The Authorization header to send for `scope` (e.g. `repository:lib/x:pull,push`), or undefined
   * when the registry answered without asking for one. Asks the registry once per scope.
   */
  async authorization(scope: string, probe: { method: string; path: string }): Promise<string | undefined> {
    if (this.authByScope.has(scope)) return this.authByScope.get(scope) || undefined;
    const res = await this.send(this.baseUrl + probe.path, { method: probe.method });
    await res.body?.cancel();
    const location = res.headers.get('location');
    if (probe.method === 'POST' && res.status === 202 && location) {
      // No auth needed, and the probe opened an upload session: cancel it.
      const cancel = await this.send(new URL(location, this.baseUrl), { method: 'DELETE' });
      await cancel.body?.cancel();
    }
    let header = '';
    if (res.status === 401)
      header = await this.answerChallenge(res.headers.get('www-authenticate') ?? '', scope);
    this.authByScope.set(scope, header);
    return header || undefined;
  }

  private async answerChallenge(challenge: string, scope: string): Promise<string> {
    const scheme = challenge.split(' ', 1)[0]?.toLowerCase();
    if (scheme === 'basic') {
      if (!this.credentials) throw new Error(`${this.baseUrl} asks for Basic auth and the bench has none`);
      return basic(this.credentials);
    }
    if (scheme === 'bearer') {
      const params = challengeParams(challenge);
      const realm = params.get('realm');
      if (!realm) throw new Error(`Bearer challenge without realm: ${challenge}`);
      const tokenUrl = new URL(realm, this.baseUrl);
      const service = params.get('service');
      if (service) tokenUrl.searchParams.set('service', service);
      tokenUrl.searchParams.set('scope', params.get('scope') ?? scope);
      const res = await this.send(tokenUrl, {
        headers: this.credentials ? { authorization: basic(this.credentials) } : {},
      });
      if (!res.ok)
        throw new Error(`token request ${tokenUrl.href} failed: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { token?: string; access_token?: string };
      const token = body.token ?? body.access_token;
      if (!token) throw new Error(`token response from ${tokenUrl.href} has no token`);
      return `Bearer ${token}`;
    }
    throw new Error(`${this.baseUrl} answered 401 with an unknown challenge: ${challenge || '(none)'}`);
  }

  private async pushHeaders(repo: string): Promise<Record<string, string>> {
    const auth = await this.authorization(`repository:${repo}:pull,push`, {
      method: 'POST',
      path: `/v2/${repo}/blobs/uploads/`,
    });
    return auth ? { authorization: auth } : {};
  }

  /** Opens an upload session; returns its absolute Location. */
  async startUpload(repo: string): Promise<string> {
    const res = await this.send(`${this.baseUrl}/v2/${repo}/blobs/uploads/`, {
      method: 'POST',
      headers: await this.pushHeaders(repo),
    });
    await expectStatus(res, 202, `POST /v2/${repo}/blobs/uploads/`);
    const location = res.headers.get('location');
    if (!location) throw new Error(`POST /v2/${repo}/blobs/uploads/ answered 202 without Location`);
    return new URL(location, this.baseUrl).href;
  }

  /** A blob in two requests: POST for a session, then PUT with the body and the digest. */
  async pushBlobPostPut(repo: string, body: Buffer, digest: string): Promise<void> {
    const location = await this.startUpload(repo);
    const res = await this.send(withDigest(location, digest), {
      method: 'PUT',
      headers: { ...(await this.pushHeaders(repo)), 'content-type': 'application/octet-stream' },
      body,
    });
    await expectStatus(res, 201, `PUT upload of ${digest}`);
  }

  /** A blob in one request: POST with ?digest= and the body. Returns the status the registry gave. */
  async pushBlobSinglePost(repo: string, body: Buffer, digest: string): Promise<Response> {
    return this.send(`${this.baseUrl}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { ...(await this.pushHeaders(repo)), 'content-type': 'application/octet-stream' },
      body,
    });
  }

  /**
   * Whether the registry completes a single-POST monolithic upload (201). Registries that do not
   * support it open a session instead (202) and ignore the body; that session is cancelled.
   */
  async supportsSinglePost(repo: string): Promise<{ supported: boolean; status: number }> {
    const body = Buffer.from(`single-post probe ${Date.now()} ${Math.random()}`);
    const res = await this.pushBlobSinglePost(repo, body, sha256(body));
    await res.body?.cancel();
    const location = res.headers.get('location');
    if (res.status === 202 && location) {
      const cancel = await this.send(new URL(location, this.baseUrl), {
        method: 'DELETE',
        headers: await this.pushHeaders(repo),
      });
      await cancel.body?.cancel();
    }
    return { supported: res.status === 201, status: res.status };
  }

  async putManifest(repo: string, tag: string, manifest: string): Promise<void> {
    const res = await this.send(`${this.baseUrl}/v2/${repo}/manifests/${tag}`, {
      method: 'PUT',
      headers: { ...(await this.pushHeaders(repo)), 'content-type': OCI_MANIFEST },
      body: manifest,
    });
    await expectStatus(res, 201, `PUT manifest ${repo}:${tag}`);
  }

  /** Pushes a tiny OCI image (config + one layer) and returns its manifest. */
  async pushSmallImage(repo: string, tag: string): Promise<string> {
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }),
    );
    const layer = Buffer.from(`bench layer ${repo} ${tag}\n`.repeat(64));
    await this.pushBlobPostPut(repo, config, sha256(config));
    await this.pushBlobPostPut(repo, layer, sha256(layer));
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
      layers: [{ mediaType: OCI_LAYER, digest: sha256(layer), size: layer.length }],
    });
    await this.putManifest(repo, tag, manifest);
    this.pushedManifests.set(`${repo}:${tag}`, manifest);
    return manifest;
  }
}

export function withDigest(location: string, digest: string): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.href;
}

export async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status === status) {
    await res.body?.cancel();
    return;
  }
  const text = (await res.text()).slice(0, 500);
  throw new Error(`${what}: expected ${status}, got ${res.status} ${text}`);
}
