import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Fetcher } from './inject-fetch.js';
import type { InProcessWharf } from './in-process-wharf.js';
import { adminAuth } from './server.js';
import { startInProcessTestWharf, type InProcessStartOptions } from './test-wharf.js';

// Small /v2 client for the integration tests: plain fetch with the pieces every test repeats
// (digests, pushing blobs and images, asserting OCI error bodies). Deliberately thin, so that a
// test reads as the HTTP exchange it checks.

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export type Algorithm = 'sha256' | 'sha512';

export function digestOf(bytes: Uint8Array, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

let counter = 0;
/**
 * A repository name no other test (or run against the same database) uses, in `project`: by
 * default `test`, which the test server helper creates (see StartOptions.projects).
 */
export function uniqueRepo(prefix = 'repo', project = 'test'): string {
  counter += 1;
  return `${project}/${prefix}/r${counter}-${randomBytes(4).toString('hex')}`;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
  /** Send no Authorization header even though the client has credentials. */
  anonymous?: boolean;
}

export class OciClient {
  #baseUrl: string;
  #authorization: string | undefined;
  #fetch: Fetcher;

  /** `fetcher`: how requests travel; the global fetch (a real server) unless an in-process one. */
  constructor(baseUrl = '', authorization?: string, fetcher: Fetcher = fetch) {
    this.#baseUrl = baseUrl;
    this.#authorization = authorization;
    this.#fetch = fetcher;
  }

  get baseUrl(): string {
    return this.#baseUrl;
  }

  get authorization(): string | undefined {
    return this.#authorization;
  }

  /** Points a client made before the server started at it (see useTestRegistry). */
  connect(baseUrl: string, authorization: string | undefined, fetcher: Fetcher = fetch): void {
    this.#baseUrl = baseUrl;
    this.#authorization = authorization;
    this.#fetch = fetcher;
  }

  /** Same server, other (or no) credentials. */
  as(authorization: string | undefined): OciClient {
    return new OciClient(this.baseUrl, authorization, this.#fetch);
  }

  /** A request with the path sent verbatim (see rawRequest), with this client's credentials. */
  raw(method: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
    return rawRequest(this.baseUrl, method, path, {
      ...(this.authorization && { authorization: this.authorization }),
      ...headers,
    });
  }

  /** A request whose body stops short (see sendInterrupted), with this client's credentials. */
  interrupted(
    method: string,
    path: string,
    headers: Record<string, string>,
    partialBody: Uint8Array,
  ): Promise<string> {
    return sendInterrupted(
      this.baseUrl,
      method,
      path,
      { ...(this.authorization && { authorization: this.authorization }), ...headers },
      partialBody,
    );
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.authorization && !options.anonymous && headers.authorization === undefined) {
      headers.authorization = this.authorization;
    }
    const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'manual' };
    if (options.body !== undefined) {
      init.body = options.body;
      if (options.body instanceof ReadableStream) init.duplex = 'half';
    }
    return this.#fetch(new URL(path, this.baseUrl), init);
  }

  /** Location headers are paths; this resolves one against the server for the next request. */
  location(res: Response): string {
    const location = res.headers.get('location');
    expect(location, 'Location header').toBeTruthy();
    const url = new URL(location as string, this.baseUrl);
    return url.pathname + url.search;
  }

  /** POST ?digest= (single request); returns the digest. */
  async pushBlob(repository: string, bytes: Uint8Array, algorithm: Algorithm = 'sha256'): Promise<string> {
    const digest = digestOf(bytes, algorithm);
    const res = await this.request('POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    await expectStatus(res, 201);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    return digest;
  }

  /** Opens an upload session (POST, no body); returns the Location path. */
  async startUpload(repository: string, query = ''): Promise<string> {
    const res = await this.request('POST', `/v2/${repository}/blobs/uploads/${query}`);
    await expectStatus(res, 202);
    return this.location(res);
  }

  /** PUT a manifest; returns its digest (checked against the response). */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<string> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    await expectStatus(res, 201);
    const digest = digestOf(bytes);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    return digest;
  }

  /**
   * Pushes a config and `layers` random layers, then the image manifest under `reference`.
   * `format` picks OCI or Docker schema 2 media types.
   */
  async pushImage(repository: string, reference: string, options: ImageOptions = {}): Promise<PushedImage> {
    const format = options.format ?? 'oci';
    const config = Buffer.from(
      JSON.stringify({ architecture: options.architecture ?? 'amd64', os: 'linux', nonce: nonce() }),
    );
    const configDescriptor: Descriptor = {
      mediaType: format === 'oci' ? OCI_CONFIG : DOCKER_CONFIG,
      digest: await this.pushBlob(repository, config),
      size: config.length,
    };
    const layers: Descriptor[] = [];
    for (let i = 0; i < (options.layers ?? 1); i++) {
      const layer = randomBytes(512 + i);
      layers.push({
        mediaType: format === 'oci' ? OCI_LAYER : DOCKER_LAYER,
        digest: await this.pushBlob(repository, layer),
        size: layer.length,
      });
    }
    const mediaType = format === 'oci' ? OCI_MANIFEST : DOCKER_MANIFEST;
    const bytes = imageManifest({ mediaType, config: configDescriptor, layers });
    const digest = await this.putManifest(repository, reference, bytes, mediaType);
    return { digest, bytes, mediaType, config: configDescriptor, layers };
  }
}

export interface ImageOptions {
  format?: 'oci' | 'docker';
  layers?: number;
  architecture?: string;
}

export interface PushedImage {
  digest: string;
  bytes: Buffer;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

function nonce(): string {
  return randomBytes(8).toString('hex');
}

export interface ImageManifestFields {
  /** null leaves the field out. */
  mediaType?: string | null;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  schemaVersion?: unknown;
}

export function imageManifest(fields: ImageManifestFields): Buffer {
  const { mediaType = OCI_MANIFEST, schemaVersion = 2, ...rest } = fields;
  return Buffer.from(
    JSON.stringify({ schemaVersion, ...(mediaType !== null && { mediaType }), ...rest }, null, 2),
  );
}

export function imageIndex(
  manifests: Descriptor[],
  extra: { mediaType?: string; subject?: Descriptor; artifactType?: string } = {},
): Buffer {
  const { mediaType = OCI_INDEX, ...rest } = extra;
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests, ...rest }));
}

/** A descriptor of an image pushed with pushImage, for use in an index or as a subject. */
export function descriptorOf(
  image: PushedImage,
  platform?: { architecture: string; os: string },
): Descriptor {
  return {
    mediaType: image.mediaType,
    digest: image.digest,
    size: image.bytes.length,
    ...(platform && { platform }),
  };
}

/** Asserts the status, with the body in the message when it is not the expected one. */
export async function expectStatus(res: Response, status: number): Promise<void> {
  if (res.status !== status) {
    const body = await res.text().catch(() => '');
    expect.fail(`expected ${status}, got ${res.status} for ${res.url}: ${body.slice(0, 500)}`);
  }
}

/** Asserts an OCI error response: status and errors[0].code in the JSON body. */
export async function expectOciError(res: Response, status: number, code: string): Promise<OciErrorBody> {
  const text = await res.text();
  expect(res.status, `${res.url}: ${text.slice(0, 300)}`).toBe(status);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  const body = JSON.parse(text) as OciErrorBody;
  expect(body.errors[0]?.code, text.slice(0, 300)).toBe(code);
  expect(typeof body.errors[0]?.message).toBe('string');
  return body;
}

/** The token service name Wharf's challenges and tokens carry (auth.token.service's default). */
export const TOKEN_SERVICE = 'wharf-registry';

/** The scope a client asks the token service for, to do `actions` (comma-separated) on `name`. */
export function repositoryScope(name: string, actions: 'pull' | 'pull,push' | 'delete'): string {
  return `repository:${name}:${actions}`;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** A WWW-Authenticate header: its scheme and its name="value" parameters. */
export function parseChallenge(header: string | null): Challenge {
  expect(header, 'WWW-Authenticate header').toBeTruthy();
  const value = header as string;
  const space = value.indexOf(' ');
  const scheme = space < 0 ? value : value.slice(0, space);
  const params: Record<string, string> = {};
  for (const m of value.slice(space + 1).matchAll(/([A-Za-z]+)="([^"]*)"/g)) {
    params[(m[1] as string).toLowerCase()] = m[2] as string;
  }
  return { scheme, params };
}

/**
 * Asserts the WWW-Authenticate header of /v2's default challenge (auth.challenge: bearer): the
 * token service of the server that answered as realm, Wharf's service name, and exactly `scope`
 * (null: no scope, as for the base endpoint). Usable on HEAD responses, which have no body.
 */
export function expectBearerChallenge(res: Response, scope: string | null): void {
  const challenge = parseChallenge(res.headers.get('www-authenticate'));
  expect(challenge.scheme, res.url).toBe('Bearer');
  expect(challenge.params, res.url).toEqual({
    realm: new URL('/service/token', res.url).href,
    service: TOKEN_SERVICE,
    ...(scope !== null && { scope }),
  });
}

/** Asserts a 401 UNAUTHORIZED with the Bearer challenge for `scope` (see expectBearerChallenge). */
export async function expectChallenge(res: Response, scope: string | null): Promise<void> {
  await expectOciError(res, 401, 'UNAUTHORIZED');
  expectBearerChallenge(res, scope);
}

/** Asserts a 401 UNAUTHORIZED with an HTTP Basic challenge (auth.challenge: basic). */
export async function expectBasicChallenge(res: Response): Promise<void> {
  await expectOciError(res, 401, 'UNAUTHORIZED');
  const challenge = parseChallenge(res.headers.get('www-authenticate'));
  expect(challenge.scheme, res.url).toBe('Basic');
  expect(challenge.params.realm, res.url).toBeTruthy();
}

export interface OciErrorBody {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request with the path sent exactly as given. fetch (WHATWG URL) resolves `..` and `%2e%2e`
 * segments before sending, so path traversal attempts can only be tested this way.
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends a request whose body stops short of what its headers promise, then half-closes the
 * connection: what a client that dies mid-upload leaves behind. Resolves with whatever the server
 * wrote back before closing (possibly nothing).
 */
export function sendInterrupted(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  partialBody: Uint8Array,
): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      const head = Object.entries({ host: url.host, ...headers })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n`);
      socket.write(partialBody);
      // Give the server time to start on the body, so the interruption hits the service mid-write.
      setTimeout(() => socket.end(), 200);
    });
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

export interface TestRegistry {
  /** The admin's client; usable in tests and in hooks registered after useTestRegistry(). */
  readonly client: OciClient;
  /** The running server. */
  wharf(): InProcessWharf;
}

/**
 * One Wharf for the calling test file, built in the test process (startInProcessTestWharf) on the
 * vitest project's database: started before its tests, closed after them. The client speaks HTTP
 * over loopback to that app rather than through `inject`: blob bodies are copied straight into
 * the socket with backpressure (handlers.ts), which inject's simulated response never relieves,
 * so a download past one buffer would hang there.
 */
export function useTestRegistry(options: InProcessStartOptions = {}): TestRegistry {
  let handle: InProcessWharf | undefined;
  const client = new OciClient();
  beforeAll(async () => {
    handle = await startInProcessTestWharf(options);
    client.connect(handle.url, adminAuth(handle));
  });
  afterAll(async () => {
    await handle?.close();
  });
  return {
    client,
    wharf: () => {
      if (!handle) throw new Error('the test registry has not started yet');
      return handle;
    },
  };
}
