import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { selfSignedLoopbackCertificate } from '../helpers/tls.js';

// Issue #10, point 12: a stored endpoint's credential goes to that endpoint's origin only (not to
// a new URL given to ping or update, not to a token realm a peer names on another host, not over
// plain http for an https endpoint), and every outbound connection passes the outbound policy
// (link-local and metadata addresses refused by default; configured deny/allow networks).
// The peers are small loopback servers that record the Authorization header of every request.

const STORED_USER = 'stored-user';
const STORED_SECRET = 'Stored-Peer-Secret-1';
const basic = (user: string, secret: string) =>
  `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const STORED = basic(STORED_USER, STORED_SECRET);
const TOKEN = 'issued-token';

interface Recorder {
  url: string;
  port: number;
  /** Authorization header of every request (undefined: none), in order. */
  seen: (string | undefined)[];
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function record(
  handler: Handler,
  options: { host?: string; tls?: { key: string; cert: string } } = {},
): Promise<Recorder> {
  const host = options.host ?? '127.0.0.1';
  const recorder = { seen: [] as (string | undefined)[], connections: 0 };
  const listener: Handler = (req, res) => {
    recorder.seen.push(req.headers.authorization);
    req.resume();
    handler(req, res);
  };
  const server = options.tls ? createHttpsServer(options.tls, listener) : createHttpServer(listener);
  server.on('connection', () => recorder.connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(recorder, {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A registry answering /v2/ for one Basic credential. */
function basicRegistry(expected: string): Handler {
  return (req, res) => {
    if (req.url === '/v2/' && req.headers.authorization === expected) {
      res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
      return;
    }
    res.writeHead(401, { 'www-authenticate': 'Basic realm="peer"' }).end();
  };
}

/** A registry whose /v2/ wants a bearer token from `realm()` (read at request time). */
function bearerRegistry(realm: () => string, serveToken = false): Handler {
  return (req, res) => {
    if (serveToken && req.url?.startsWith('/token')) {
      res.writeHead(req.headers.authorization === STORED ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: TOKEN }));
      return;
    }
    if (req.url === '/v2/' && req.headers.authorization === `Bearer ${TOKEN}`) {
      res.writeHead(200).end('{}');
      return;
    }
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="peer"` }).end();
  };
}

/** A token service that issues a token for the stored credential only. */
const tokenService: Handler = (req, res) => {
  res.writeHead(req.headers.authorization === STORED ? 200 : 401, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ token: TOKEN }));
};

const stored = (seen: (string | undefined)[]) => seen.filter((a) => a === STORED).length;

describe('outbound connections and endpoint credentials', () => {
  let wharf: InProcessWharf;
  let tlsDir: string;
  let tls: { key: string; cert: string };
  // Peers, started before Wharf: its configuration names some of their ports.
  let home: Recorder; // the stored endpoint's own peer (Basic)
  let elsewhere: Recorder; // a host of the caller's, given as the "new URL"
  let realm: Recorder; // a token service on another port
  let foreignRealmPeer: Recorder; // names `realm` as its token realm
  let trustedRealmPeer: Recorder; // names `realm` too, and the configuration trusts it there
  let selfRealmPeer: Recorder; // serves its own token realm
  let tlsPeer: Recorder; // https, names an http realm (trusted by configuration)
  let denied: Recorder; // on 127.0.0.3: a network the configuration denies

  const api = async (method: 'POST' | 'PUT', url: string, body: unknown) => {
    const res = await wharf.app.inject({
      method,
      url: `/api/v2.0${url}`,
      headers: { authorization: wharf.adminAuth, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
    const message =
      res.statusCode >= 400
        ? ((res.json() as { errors: { message: string }[] }).errors[0]?.message ?? '')
        : '';
    return { status: res.statusCode, message, location: res.headers.location };
  };
  const create = async (name: string, url: string, credential = true) => {
    const res = await api('POST', '/registries', {
      name,
      url,
      type: 'docker-registry',
      ...(credential && {
        credential: { type: 'basic', access_key: STORED_USER, access_secret: STORED_SECRET },
      }),
      ...(url.startsWith('https') && { ca_certificate: tls.cert }),
    });
    expect(res.status, res.message).toBe(201);
    return Number(String(res.location).split('/').pop());
  };

  beforeAll(async () => {
    tlsDir = await mkdtemp(join(tmpdir(), 'wharf-outbound-tls-'));
    const generated = await selfSignedLoopbackCertificate(tlsDir);
    tls = { key: generated.key, cert: generated.cert };

    home = await record(basicRegistry(STORED));
    elsewhere = await record(basicRegistry(basic('other-user', 'Other-Secret-2')));
    realm = await record(tokenService);
    const realmUrl = () => `${realm.url}/token`;
    foreignRealmPeer = await record(bearerRegistry(realmUrl));
    trustedRealmPeer = await record(bearerRegistry(realmUrl));
    selfRealmPeer = await record(bearerRegistry(() => `${selfRealmPeer.url}/token`, true));
    tlsPeer = await record(
      bearerRegistry(() => `http://127.0.0.1:${realm.port}/token`),
      { tls },
    );
    denied = await record(basicRegistry(STORED), { host: '127.0.0.3' });

    wharf = await startInProcessWharf({
      outbound: {
        // Of loopback, only 127.0.0.1 may be reached: a configured deny list with an exception.
        deny_networks: ['127.0.0.0/8'],
        allow_networks: ['127.0.0.1/32'],
        token_realms: {
          [`127.0.0.1:${trustedRealmPeer.port}`]: [`127.0.0.1:${realm.port}`],
          [`127.0.0.1:${tlsPeer.port}`]: [`127.0.0.1:${realm.port}`],
        },
      },
    });
  });
  afterAll(async () => {
    await wharf?.close();
    for (const r of [
      home,
      elsewhere,
      realm,
      foreignRealmPeer,
      trustedRealmPeer,
      selfRealmPeer,
      tlsPeer,
      denied,
    ])
      await r?.close();
    if (tlsDir) await rm(tlsDir, { recursive: true, force: true });
  });

  it('a ping or update with another URL does not send the stored credential there', async () => {
    const id = await create('home', home.url);
    expect(stored(home.seen)).toBeGreaterThan(0); // the check at creation used it, at home

    const ping = await api('POST', '/registries/ping', { id, url: elsewhere.url });
    expect(ping.status).toBe(400);
    expect(ping.message).toMatch(/stored credential .* is sent to http:\/\/127\.0\.0\.1:\d+ only/);
    const update = await api('PUT', `/registries/${id}`, { url: elsewhere.url });
    expect(update.status).toBe(400);
    // The masked secret sent back by a form means "keep it": the same refusal.
    const masked = await api('POST', '/registries/ping', { id, url: elsewhere.url, access_secret: '*****' });
    expect(masked.status).toBe(400);
    expect(stored(elsewhere.seen)).toBe(0);

    // With its own credential given, the new URL is checked with that one, never the stored one.
    const own = await api('POST', '/registries/ping', {
      id,
      url: elsewhere.url,
      access_key: 'other-user',
      access_secret: 'Other-Secret-2',
    });
    expect(own.status, own.message).toBe(200);
    expect(elsewhere.seen).toContain(basic('other-user', 'Other-Secret-2'));
    expect(stored(elsewhere.seen)).toBe(0);

    // The endpoint's own origin (another path spelling) still works with the stored credential.
    expect((await api('POST', '/registries/ping', { id, url: `${home.url}/` })).status).toBe(200);

    // Weaker or other certificate checks with the kept secret are a new destination too (review).
    const insecure = await api('PUT', `/registries/${id}`, { insecure: true });
    expect(insecure.status).toBe(400);
    expect(insecure.message).toMatch(/give access_secret again to change how registry/);
    const ca = await api('PUT', `/registries/${id}`, { ca_certificate: tls.cert });
    expect(ca.status).toBe(400);
  });

  it('a token realm on another host or port gets no credential unless the configuration trusts it', async () => {
    const id = await create('foreign-realm', foreignRealmPeer.url);
    const ping = await api('POST', '/registries/ping', { id });
    expect(ping.status).toBe(400);
    expect(ping.message).toMatch(/token realm on another host .*not sent/);
    expect(stored(realm.seen)).toBe(0);

    // outbound.token_realms lists the realm for this endpoint: the credential may go there.
    const trusted = await create('trusted-realm', trustedRealmPeer.url);
    expect((await api('POST', '/registries/ping', { id: trusted })).status).toBe(200);
    expect(stored(realm.seen)).toBeGreaterThan(0);

    // A realm on the endpoint's own host and port needs no configuration.
    const own = await create('own-realm', selfRealmPeer.url);
    expect((await api('POST', '/registries/ping', { id: own })).status).toBe(200);
  });

  it('an https endpoint never sends its credential to a plain-http realm, even a trusted one', async () => {
    const before = realm.seen.length;
    const id = await create('tls-peer', tlsPeer.url);
    const ping = await api('POST', '/registries/ping', { id });
    expect(ping.status).toBe(400);
    expect(ping.message).toMatch(/plain-http token realm .* for an https registry; refused/);
    expect(tlsPeer.seen.length).toBeGreaterThan(0); // the peer was reached (over TLS)
    expect(realm.seen.length).toBe(before); // its http realm never was
  });

  it('refuses metadata and link-local addresses by default, and configured networks', async () => {
    for (const url of [
      'http://169.254.169.254',
      'http://[fd00:ec2::254]',
      'http://100.100.100.200',
      'http://169.254.10.1:5000',
    ]) {
      const res = await api('POST', '/registries/ping', { url, type: 'docker-registry' });
      expect(res.status, url).toBe(400);
      expect(res.message, url).toMatch(/refused by the outbound policy/);
    }
    // 127.0.0.3 is in the configured deny list (and not in its exception): no connection is made.
    const res = await api('POST', '/registries/ping', { url: denied.url, type: 'docker-registry' });
    expect(res.status).toBe(400);
    expect(res.message).toMatch(/127\.0\.0\.3.*refused by the outbound policy/);
    expect(denied.connections).toBe(0);
    // The allowed exception, 127.0.0.1, is reached (with a credential given in the ping itself).
    const allowed = await api('POST', '/registries/ping', {
      url: home.url,
      type: 'docker-registry',
      access_key: STORED_USER,
      access_secret: STORED_SECRET,
    });
    expect(allowed.status, allowed.message).toBe(200);
  });
});
