import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';

// Issue #10, point 10: abuse has limits. A blob larger than limits.max_blob_size_bytes is
// refused (declared up front or as it streams in), one account holds at most
// limits.max_upload_sessions_per_principal open upload sessions, and no body is read before the
// request is authorised, for an invalid repository name too.

const MiB = 1024 * 1024;

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function errorCode(body: string): string | undefined {
  return (JSON.parse(body) as { errors: Array<{ code: string }> }).errors[0]?.code;
}

describe('blob size limit (limits.max_blob_size_bytes)', () => {
  const LIMIT = 1000;
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessWharf({ limits: { max_blob_size_bytes: LIMIT } }, { projects: ['test'] });
  });
  afterAll(async () => {
    await wharf?.close();
  });

  const v2 = (method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT', url: string, extra = {}) =>
    wharf.app.inject({ method, url, headers: { authorization: wharf.adminAuth }, ...extra });

  it('a blob of exactly the limit is accepted', async () => {
    const bytes = randomBytes(LIMIT);
    const res = await v2('POST', `/v2/test/size/blobs/uploads/?digest=${sha256(bytes)}`, {
      payload: bytes,
      headers: { authorization: wharf.adminAuth, 'content-type': 'application/octet-stream' },
    });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('a monolithic upload declaring more is 413 SIZE_INVALID, and nothing is stored', async () => {
    const bytes = randomBytes(LIMIT + 1);
    const res = await v2('POST', `/v2/test/size/blobs/uploads/?digest=${sha256(bytes)}`, {
      payload: bytes,
      headers: { authorization: wharf.adminAuth, 'content-type': 'application/octet-stream' },
    });
    expect(res.statusCode).toBe(413);
    expect(errorCode(res.body)).toBe('SIZE_INVALID');
    expect((await v2('HEAD', `/v2/test/size/blobs/${sha256(bytes)}`)).statusCode).toBe(404);
  });

  it('a streamed body without Content-Length is cut off once it passes the limit', async () => {
    const bytes = randomBytes(64 * 1024);
    let pulled = 0;
    // A body of unknown length: the server only learns its size by reading it.
    const body = new Readable({
      read() {
        if (pulled >= bytes.length) return void this.push(null);
        this.push(bytes.subarray(pulled, pulled + 512));
        pulled += 512;
      },
    });
    const res = await v2('POST', `/v2/test/size/blobs/uploads/?digest=${sha256(bytes)}`, {
      payload: body,
      headers: {
        authorization: wharf.adminAuth,
        'content-type': 'application/octet-stream',
        'transfer-encoding': 'chunked',
      },
    });
    expect(res.statusCode, res.body).toBe(413);
    expect(errorCode(res.body)).toBe('SIZE_INVALID');
    expect((await v2('HEAD', `/v2/test/size/blobs/${sha256(bytes)}`)).statusCode).toBe(404);
  });

  it('chunks past the limit are refused and leave the session where it was', async () => {
    const start = await v2('POST', '/v2/test/size/blobs/uploads/');
    expect(start.statusCode).toBe(202);
    const location = start.headers.location as string;
    const first = randomBytes(600);
    const patch1 = await v2('PATCH', location, {
      payload: first,
      headers: {
        authorization: wharf.adminAuth,
        'content-type': 'application/octet-stream',
        'content-range': '0-599',
      },
    });
    expect(patch1.statusCode, patch1.body).toBe(202);
    // Declared by Content-Range: refused before it is read.
    const patch2 = await v2('PATCH', location, {
      payload: randomBytes(600),
      headers: {
        authorization: wharf.adminAuth,
        'content-type': 'application/octet-stream',
        'content-range': '600-1199',
      },
    });
    expect(patch2.statusCode).toBe(413);
    expect(errorCode(patch2.body)).toBe('SIZE_INVALID');
    // Streamed without a length: refused as it passes the limit.
    const patch3 = await v2('PATCH', location, {
      payload: Readable.from([randomBytes(300), randomBytes(300)]),
      headers: {
        authorization: wharf.adminAuth,
        'content-type': 'application/octet-stream',
        'transfer-encoding': 'chunked',
      },
    });
    expect(patch3.statusCode).toBe(413);
    const status = await v2('GET', location);
    expect(status.statusCode).toBe(204);
    expect(status.headers.range).toBe('0-599');
    // What was received within the limit still completes.
    const done = await v2('PUT', `${location}?digest=${sha256(first)}`);
    expect(done.statusCode, done.body).toBe(201);
  });
});

describe('open upload sessions per principal (limits.max_upload_sessions_per_principal)', () => {
  const LIMIT = 3;
  let wharf: InProcessWharf;
  const other = basicAuth('uploader2', 'Uploader2-Passw0rd');
  beforeAll(async () => {
    wharf = await startInProcessWharf(
      { limits: { max_upload_sessions_per_principal: LIMIT } },
      { projects: ['test'] },
    );
    const api = (url: string, payload: object) =>
      wharf.app.inject({
        method: 'POST',
        url,
        headers: { authorization: wharf.adminAuth, 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      });
    const user = await api('/api/v2.0/users', {
      username: 'uploader2',
      password: 'Uploader2-Passw0rd',
      email: 'uploader2@example.com',
      realname: 'Uploader Two',
    });
    expect(user.statusCode, user.body).toBe(201);
    const member = await api('/api/v2.0/projects/test/members', {
      role_id: 2,
      member_user: { username: 'uploader2' },
    });
    expect(member.statusCode, member.body).toBe(201);
  });
  afterAll(async () => {
    await wharf?.close();
  });

  const open = (authorization: string) =>
    wharf.app.inject({ method: 'POST', url: '/v2/test/sessions/blobs/uploads/', headers: { authorization } });

  it('the account holding the most sessions is refused another (403 DENIED), others are not', async () => {
    const locations: string[] = [];
    for (let i = 0; i < LIMIT; i++) {
      const res = await open(wharf.adminAuth);
      expect(res.statusCode, res.body).toBe(202);
      locations.push(res.headers.location as string);
    }
    const refused = await open(wharf.adminAuth);
    expect(refused.statusCode).toBe(403);
    expect(errorCode(refused.body)).toBe('DENIED');

    // A bearer token issued to the same account counts against the same sessions.
    const tokenRes = await wharf.app.inject({
      method: 'GET',
      url: '/service/token?service=wharf-registry&scope=repository:test/sessions:pull,push',
      headers: { authorization: wharf.adminAuth },
    });
    const token = (JSON.parse(tokenRes.body) as { token: string }).token;
    const viaToken = await open(`Bearer ${token}`);
    expect(viaToken.statusCode).toBe(403);

    // Another account has its own allowance.
    expect((await open(other)).statusCode).toBe(202);

    // Finishing or cancelling one frees a place.
    const cancel = await wharf.app.inject({
      method: 'DELETE',
      url: locations[0] as string,
      headers: { authorization: wharf.adminAuth },
    });
    expect(cancel.statusCode).toBe(204);
    expect((await open(wharf.adminAuth)).statusCode).toBe(202);
    expect((await open(wharf.adminAuth)).statusCode).toBe(403);
  });
});

/**
 * Sends a request's head and only the first `sent` bytes of a body whose Content-Length says
 * `declared`, then waits for the answer. The rest of the body is never sent, so an answer can only
 * come from a server that decided without reading the body.
 */
async function answerWithoutBody(
  url: string,
  head: string,
  declared: number,
  sent: number,
): Promise<{ status: number; body: string } | 'waited-for-body'> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  try {
    return await new Promise((resolve, reject) => {
      let received = '';
      // Bounds the test on a server that waits for the body (the failure this test exists for).
      const guard = setTimeout(() => resolve('waited-for-body'), 20_000);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headers = received.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? 0);
        if (received.length - end - 4 < length) return;
        clearTimeout(guard);
        resolve({
          status: Number(headers.split(' ')[1]),
          body: received.slice(end + 4, end + 4 + length),
        });
      });
      socket.write(`${head}Content-Length: ${declared}\r\n\r\n`);
      socket.write(Buffer.alloc(sent, 0x7b));
    });
  } finally {
    socket.destroy();
  }
}

describe('no body is read before authorisation', () => {
  let wharf: InProcessWharf;
  beforeAll(async () => {
    wharf = await startInProcessWharf({}, { projects: ['test'] });
  });
  afterAll(async () => {
    await wharf?.close();
  });

  const host = () => new URL(wharf.url).host;
  const manifestPut = (path: string, auth = '') =>
    `PUT ${path} HTTP/1.1\r\nHost: ${host()}\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n${auth}`;

  it('an anonymous PUT of a 4 MiB manifest to an invalid name is answered without its body', async () => {
    const answer = await answerWithoutBody(
      wharf.url,
      manifestPut('/v2/Not_A/Valid..Name/manifests/latest'),
      4 * MiB,
      1024,
    );
    expect(answer).not.toBe('waited-for-body');
    if (answer === 'waited-for-body') return;
    expect([400, 401]).toContain(answer.status);
    expect(['NAME_INVALID', 'UNAUTHORIZED']).toContain(errorCode(answer.body));
  });

  it('an anonymous PUT to a private repository is 401 without its body', async () => {
    const answer = await answerWithoutBody(
      wharf.url,
      manifestPut('/v2/test/app/manifests/latest'),
      4 * MiB,
      1024,
    );
    expect(answer).not.toBe('waited-for-body');
    if (answer === 'waited-for-body') return;
    expect(answer.status).toBe(401);
    expect(errorCode(answer.body)).toBe('UNAUTHORIZED');
  });

  it('an anonymous blob upload with a body is 401 without reading it', async () => {
    const digest = sha256(Buffer.alloc(4 * MiB, 0x7b));
    const head = `POST /v2/test/app/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: ${host()}\r\nContent-Type: application/octet-stream\r\n`;
    const answer = await answerWithoutBody(wharf.url, head, 4 * MiB, 1024);
    expect(answer).not.toBe('waited-for-body');
    if (answer === 'waited-for-body') return;
    expect(answer.status).toBe(401);
  });

  it('an anonymous API write is 401 without its body being read', async () => {
    const answer = await answerWithoutBody(
      wharf.url,
      `POST /api/v2.0/projects HTTP/1.1\r\nHost: ${host()}\r\nContent-Type: application/json\r\n`,
      MiB - 1,
      1024,
    );
    expect(answer).not.toBe('waited-for-body');
    if (answer === 'waited-for-body') return;
    expect(answer.status).toBe(401);
  });

  it('a signed-in caller pushing with an invalid tag is refused before its body is read', async () => {
    const auth = `Authorization: ${wharf.adminAuth}\r\n`;
    const answer = await answerWithoutBody(
      wharf.url,
      manifestPut('/v2/test/app/manifests/-bad-tag', auth),
      4 * MiB,
      1024,
    );
    expect(answer).not.toBe('waited-for-body');
    if (answer === 'waited-for-body') return;
    expect(answer.status).toBe(400);
    expect(errorCode(answer.body)).toBe('TAG_INVALID');
  });
});
