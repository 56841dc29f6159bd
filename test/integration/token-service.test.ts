import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  SignJWT,
  type CryptoKey,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectChallenge,
  expectStatus,
  OciClient,
  parseChallenge,
  repositoryScope,
  TOKEN_SERVICE,
  uniqueRepo,
  useTestRegistry,
} from '../helpers/oci-client.js';
import { testDatabaseUrl } from '../helpers/postgres.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';

// The token service (GET /service/token) and bearer tokens on /v2: what a token grants, that only
// tokens signed by a configured key, for this service, unexpired and untouched are accepted, and
// that instances sharing key files accept each other's tokens (key rotation).

const ISSUER = 'wharf-token-issuer';
const EXPIRATION_SECONDS = 1800;
const PUBLIC = 'pub';

interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

interface TokenClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  access?: TokenAccess[];
}

interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A JWT's header and payload, decoded by hand: base64url JSON. */
function decodeJwt(token: string): { header: Record<string, unknown>; payload: TokenClaims } {
  const parts = token.split('.');
  expect(parts, token).toHaveLength(3);
  const json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
  return {
    header: json(parts[0] as string) as Record<string, unknown>,
    payload: json(parts[1] as string) as TokenClaims,
  };
}

function tokenUrl(baseUrl: string, scopes: string[], service: string = TOKEN_SERVICE): string {
  const url = new URL('/service/token', baseUrl);
  url.searchParams.set('service', service);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  return url.href;
}

function requestToken(
  baseUrl: string,
  authorization: string | undefined,
  scopes: string[],
): Promise<Response> {
  return fetch(tokenUrl(baseUrl, scopes), { headers: authorization ? { authorization } : {} });
}

/** A token from the service, checked to be a well-formed answer. */
async function getToken(
  baseUrl: string,
  authorization: string | undefined,
  scopes: string[],
): Promise<{ token: string; claims: TokenClaims; header: Record<string, unknown> }> {
  const res = await requestToken(baseUrl, authorization, scopes);
  await expectStatus(res, 200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const body = (await res.json()) as TokenResponse;
  expect(body.access_token).toBe(body.token);
  expect(body.expires_in).toBe(EXPIRATION_SECONDS);
  expect(Number.isNaN(Date.parse(body.issued_at))).toBe(false);
  const { header, payload } = decodeJwt(body.token);
  return { token: body.token, claims: payload, header };
}

const bearer = (token: string) => `Bearer ${token}`;

/** The kid Wharf gives a key: the RFC 7638 thumbprint of its public JWK. */
async function kidOf(key: CryptoKey): Promise<string> {
  const { d: _d, ...publicJwk } = await exportJWK(key);
  return calculateJwkThumbprint(publicJwk);
}

interface Forged {
  key: CryptoKey;
  kid: string;
  access?: TokenAccess[];
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative: in the past. */
  expiresIn?: number;
  issuedAgo?: number;
}

/** A token signed by us, claims as the service would write them unless told otherwise. */
async function forge(options: Forged): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const issuedAt = now - (options.issuedAgo ?? 0);
  return new SignJWT({ access: options.access ?? [] })
    .setProtectedHeader({ alg: 'ES256', kid: options.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? ISSUER)
    .setSubject('admin')
    .setAudience(options.audience ?? TOKEN_SERVICE)
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt - 5)
    .setExpirationTime(now + (options.expiresIn ?? 600))
    .setJti(randomUUID())
    .sign(options.key);
}

/** An unsigned token (alg none) naming the server's key. */
function unsigned(kid: string, access: TokenAccess[]): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', kid, typ: 'JWT' })}.${part({
    iss: ISSUER,
    sub: 'admin',
    aud: TOKEN_SERVICE,
    iat: now,
    nbf: now - 5,
    exp: now + 600,
    access,
  })}.`;
}

const pushAccess = (name: string): TokenAccess[] => [{ type: 'repository', name, actions: ['pull', 'push'] }];

describe('GET /service/token and bearer tokens on /v2', () => {
  const registry = useTestRegistry({ anonymousPull: true, publicProjects: [PUBLIC] });
  const admin = registry.client;
  const url = () => registry.wharf().url;
  let serverKey: { key: CryptoKey; kid: string };

  beforeAll(async () => {
    // The default signing key: generated in the data directory on first start.
    const pem = await readFile(join(registry.wharf().dataDir, 'secrets', 'token-signing-key.pem'), 'utf8');
    const key = await importPKCS8(pem, 'ES256', { extractable: true });
    serverKey = { key, kid: await kidOf(key) };
  });

  it('grants the admin the actions asked for, in a JWT the registry accepts', async () => {
    const repo = uniqueRepo('tok');
    const { token, claims, header } = await getToken(url(), adminAuth(registry.wharf()), [
      repositoryScope(repo, 'pull,push'),
    ]);
    expect(header).toMatchObject({ alg: 'ES256', kid: serverKey.kid });
    expect(claims.access).toEqual(pushAccess(repo));
    expect(claims.iss).toBe(ISSUER);
    expect(claims.aud).toBe(TOKEN_SERVICE);
    expect(claims.sub).toBe('admin');
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(EXPIRATION_SECONDS);

    const withToken = admin.as(bearer(token));
    await expectStatus(await withToken.request('POST', `/v2/${repo}/blobs/uploads/`), 202);
    const image = await withToken.pushImage(repo, 'v1');
    const manifest = await withToken.request('GET', `/v2/${repo}/manifests/v1`);
    await expectStatus(manifest, 200);
    expect(manifest.headers.get('docker-content-digest')).toBe(image.digest);
    // The token names no catalog access; the base endpoint accepts any valid token.
    await expectChallenge(await withToken.request('GET', '/v2/_catalog'), 'registry:catalog:*');
    await expectStatus(await withToken.request('GET', '/v2/'), 200);
  });

  it('a token for one repository does not reach another, nor more actions than it lists', async () => {
    const [a, b] = [uniqueRepo('tok-a'), uniqueRepo('tok-b')];
    const push = await getToken(url(), adminAuth(registry.wharf()), [repositoryScope(a, 'pull,push')]);
    const forA = admin.as(bearer(push.token));
    await expectStatus(await forA.request('POST', `/v2/${a}/blobs/uploads/`), 202);
    await expectChallenge(
      await forA.request('POST', `/v2/${b}/blobs/uploads/`),
      repositoryScope(b, 'pull,push'),
    );
    await expectChallenge(await forA.request('GET', `/v2/${b}/tags/list`), repositoryScope(b, 'pull'));

    await admin.pushImage(a, 'v1');
    const pull = await getToken(url(), adminAuth(registry.wharf()), [repositoryScope(a, 'pull')]);
    expect(pull.claims.access).toEqual([{ type: 'repository', name: a, actions: ['pull'] }]);
    const pullA = admin.as(bearer(pull.token));
    await expectStatus(await pullA.request('GET', `/v2/${a}/tags/list`), 200);
    await expectChallenge(
      await pullA.request('POST', `/v2/${a}/blobs/uploads/`),
      repositoryScope(a, 'pull,push'),
    );
    await expectChallenge(
      await pullA.request('DELETE', `/v2/${a}/manifests/v1`),
      repositoryScope(a, 'delete'),
    );
    await expectStatus(await admin.request('GET', `/v2/${a}/manifests/v1`), 200);
  });

  it('several scopes in one request; nothing for a project that does not exist', async () => {
    const [a, b] = [uniqueRepo('multi-a'), uniqueRepo('multi-b')];
    const missing = `nothere-${randomUUID().slice(0, 8)}/app`;
    const { claims } = await getToken(url(), adminAuth(registry.wharf()), [
      repositoryScope(a, 'pull'),
      `${repositoryScope(b, 'pull,push')} ${repositoryScope(missing, 'pull,push')}`,
      'registry:catalog:*',
    ]);
    expect(claims.access).toEqual([
      { type: 'repository', name: a, actions: ['pull'] },
      { type: 'repository', name: b, actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('a token with the catalog scope lists the catalog', async () => {
    const { token } = await getToken(url(), adminAuth(registry.wharf()), ['registry:catalog:*']);
    await expectStatus(await admin.as(bearer(token)).request('GET', '/v2/_catalog'), 200);
  });

  it('follows the challenge as a client does: realm, service and scope from WWW-Authenticate', async () => {
    const repo = uniqueRepo('flow');
    const anonymous = new OciClient(url(), undefined, registry.wharf().fetch);
    const challenged = await anonymous.request('POST', `/v2/${repo}/blobs/uploads/`);
    expect(challenged.status).toBe(401);
    const { params } = parseChallenge(challenged.headers.get('www-authenticate'));
    const realm = new URL(params.realm as string);
    realm.searchParams.set('service', params.service as string);
    realm.searchParams.set('scope', params.scope as string);
    const res = await fetch(realm, { headers: { authorization: adminAuth(registry.wharf()) } });
    await expectStatus(res, 200);
    const { token } = (await res.json()) as TokenResponse;
    await expectStatus(await anonymous.as(bearer(token)).request('POST', `/v2/${repo}/blobs/uploads/`), 202);
  });

  it('a token whose payload or signature was altered is 401', async () => {
    const [a, b] = [uniqueRepo('tamper-a'), uniqueRepo('tamper-b')];
    const { token } = await getToken(url(), adminAuth(registry.wharf()), [repositoryScope(a, 'pull,push')]);
    const [head, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
    const widened = Buffer.from(
      JSON.stringify({ ...claims, access: [...(claims.access ?? []), ...pushAccess(b)] }),
    ).toString('base64url');
    const tamperedPayload = `${head}.${widened}.${signature}`;
    // A changed character early in the signature changes its bytes (the last may be padding bits).
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    const tamperedSignature = `${head}.${payload}.${flipped}`;
    for (const forged of [tamperedPayload, tamperedSignature, `${head}.${payload}.`]) {
      const client = admin.as(bearer(forged));
      await expectChallenge(
        await client.request('POST', `/v2/${b}/blobs/uploads/`),
        repositoryScope(b, 'pull,push'),
      );
      await expectChallenge(
        await client.request('POST', `/v2/${a}/blobs/uploads/`),
        repositoryScope(a, 'pull,push'),
      );
    }
    // The untouched token still works.
    await expectStatus(await admin.as(bearer(token)).request('POST', `/v2/${a}/blobs/uploads/`), 202);
  });

  it('accepts a token signed with its key; refuses it expired, for another audience or issuer', async () => {
    const repo = uniqueRepo('forge');
    const access = pushAccess(repo);
    const post = (token: string) => admin.as(bearer(token)).request('POST', `/v2/${repo}/blobs/uploads/`);
    // The control: signed by the server's own key with the right claims, accepted.
    await expectStatus(await post(await forge({ ...serverKey, access })), 202);

    const refused = [
      await forge({ ...serverKey, access, expiresIn: -3600, issuedAgo: 7200 }),
      await forge({ ...serverKey, access, audience: 'some-other-registry' }),
      await forge({ ...serverKey, access, issuer: 'someone-else' }),
    ];
    for (const token of refused) await expectChallenge(await post(token), repositoryScope(repo, 'pull,push'));
  });

  it('refuses tokens signed by another key, whatever kid they name, and unsigned ones', async () => {
    const repo = uniqueRepo('forge');
    const access = pushAccess(repo);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const refused = [
      await forge({ key: privateKey, kid: await kidOf(privateKey), access }),
      await forge({ key: privateKey, kid: serverKey.kid, access }),
      unsigned(serverKey.kid, access),
    ];
    for (const token of refused) {
      await expectChallenge(
        await admin.as(bearer(token)).request('POST', `/v2/${repo}/blobs/uploads/`),
        repositoryScope(repo, 'pull,push'),
      );
    }
  });

  it('an anonymous request gets a token without access to a private repository', async () => {
    const repo = uniqueRepo('anon');
    await admin.pushImage(repo, 'v1');
    const { token, claims } = await getToken(url(), undefined, [repositoryScope(repo, 'pull,push')]);
    expect(claims.access).toEqual([]);
    expect(claims.sub).toBe('');
    await expectChallenge(
      await admin.as(bearer(token)).request('GET', `/v2/${repo}/manifests/v1`),
      repositoryScope(repo, 'pull'),
    );
  });

  it('an anonymous request gets pull, and only pull, on a public project', async () => {
    const repo = uniqueRepo('anon', PUBLIC);
    await admin.pushImage(repo, 'v1');
    const { token, claims } = await getToken(url(), undefined, [repositoryScope(repo, 'pull,push')]);
    expect(claims.access).toEqual([{ type: 'repository', name: repo, actions: ['pull'] }]);
    const withToken = admin.as(bearer(token));
    await expectStatus(await withToken.request('GET', `/v2/${repo}/manifests/v1`), 200);
    await expectChallenge(
      await withToken.request('POST', `/v2/${repo}/blobs/uploads/`),
      repositoryScope(repo, 'pull,push'),
    );
  });

  it('wrong credentials are 401, never an anonymous token', async () => {
    const scope = [repositoryScope(uniqueRepo('cred'), 'pull')];
    const wharf = registry.wharf();
    for (const authorization of [basic(wharf.adminUser, 'not-the-password'), basic('nobody', 'whatever')]) {
      const res = await requestToken(url(), authorization, scope);
      expect(res.status).toBe(401);
      const body = await res.text();
      expect(body).not.toMatch(/"token"/);
      expect(res.headers.get('www-authenticate')).toBeTruthy();
    }
  });

  it('a token is not a credential for getting another token', async () => {
    const { token } = await getToken(url(), adminAuth(registry.wharf()), []);
    const res = await requestToken(url(), bearer(token), [repositoryScope(uniqueRepo('chain'), 'pull,push')]);
    expect(res.status).toBe(401);
  });

  it('a request for another service is refused', async () => {
    const res = await fetch(tokenUrl(url(), [], 'another-registry'), {
      headers: { authorization: adminAuth(registry.wharf()) },
    });
    expect(res.status).toBe(400);
  });
});

// Two instances on one database, each signing with its own key and accepting the other's: the
// state in the middle of a key rotation. Needs an external PostgreSQL (PGlite admits one process).
describe.runIf(process.env.WHARF_TEST_DATABASE === 'postgres')('key rotation across instances', () => {
  let dir: string;
  let one: InProcessWharf;
  let two: InProcessWharf;
  const kids: Record<'a' | 'b', string> = { a: '', b: '' };
  let keyC: CryptoKey;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-keys-'));
    const file = (name: string) => join(dir, name);
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => generateKeyPair('ES256', { extractable: true })));
    if (!a || !b || !c) throw new Error('key generation failed');
    await writeFile(file('a.pem'), await exportPKCS8(a.privateKey), { mode: 0o600 });
    await writeFile(file('b.pem'), await exportPKCS8(b.privateKey), { mode: 0o600 });
    await writeFile(file('b.pub.pem'), await exportSPKI(b.publicKey));
    kids.a = await kidOf(a.privateKey);
    kids.b = await kidOf(b.privateKey);
    keyC = c.privateKey;
    const databaseUrl = await testDatabaseUrl();
    // Instance one signs with A and also accepts B (a public key file); instance two signs with
    // B and also accepts A (here its private key file, whose public half is used).
    one = await startInProcessTestWharf({
      databaseUrl,
      authConfig: { token: { signing_key_file: file('a.pem'), verification_key_files: [file('b.pub.pem')] } },
    });
    two = await startInProcessTestWharf({
      databaseUrl,
      authConfig: { token: { signing_key_file: file('b.pem'), verification_key_files: [file('a.pem')] } },
    });
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a token from either instance is accepted by the other', async () => {
    const repo = uniqueRepo('rotate');
    const scope = [repositoryScope(repo, 'pull,push')];
    const fromOne = await getToken(one.url, adminAuth(one), scope);
    const fromTwo = await getToken(two.url, adminAuth(two), scope);
    expect(fromOne.header.kid).toBe(kids.a);
    expect(fromTwo.header.kid).toBe(kids.b);

    // One's token pushes an image through two; two's token reads its tags through one.
    const viaTwo = new OciClient(two.url, bearer(fromOne.token), two.fetch);
    await expectStatus(await viaTwo.request('POST', `/v2/${repo}/blobs/uploads/`), 202);
    await viaTwo.pushImage(repo, 'v1');
    const viaOne = new OciClient(one.url, bearer(fromTwo.token), one.fetch);
    await expectStatus(await viaOne.request('POST', `/v2/${repo}/blobs/uploads/`), 202);
    const tags = await viaOne.request('GET', `/v2/${repo}/tags/list`);
    await expectStatus(tags, 200);
    expect(await tags.json()).toEqual({ name: repo, tags: ['v1'] });
    // And each instance accepts its own.
    await expectStatus(
      await new OciClient(one.url, bearer(fromOne.token), one.fetch).request('GET', `/v2/${repo}/tags/list`),
      200,
    );
    await expectStatus(
      await new OciClient(two.url, bearer(fromTwo.token), two.fetch).request('GET', `/v2/${repo}/tags/list`),
      200,
    );
  });

  it('a token signed by a key neither knows is refused by both', async () => {
    const repo = uniqueRepo('rotate');
    const access = pushAccess(repo);
    const tokens = [
      await forge({ key: keyC, kid: await kidOf(keyC), access }),
      await forge({ key: keyC, kid: kids.a, access }),
      await forge({ key: keyC, kid: kids.b, access }),
    ];
    for (const wharf of [one, two]) {
      for (const token of tokens) {
        await expectChallenge(
          await new OciClient(wharf.url, bearer(token), wharf.fetch).request(
            'POST',
            `/v2/${repo}/blobs/uploads/`,
          ),
          repositoryScope(repo, 'pull,push'),
        );
      }
    }
  });
});
