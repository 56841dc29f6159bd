import { createHash } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { basicAuth, startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';

// Issue #10, points 2, 3, 11, 16 and 17, each performed as the attack or the bad request:
// registry tokens used as API credentials, robots' deny entries, private projects told apart from
// missing ones, authentication errors for a name problem, and anonymous pulls of public projects.

const OUTSIDER = { name: 'outsider', password: 'Outsider-Passw0rd1' };
const GUEST = { name: 'guestuser', password: 'Guest-Passw0rd1' };
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

type Headers = Record<string, string>;

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function call(
  app: FastifyInstance,
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  authorization?: string,
  body?: unknown,
): Promise<LightMyRequestResponse> {
  const headers: Headers = authorization ? { authorization } : {};
  if (body === undefined) return app.inject({ method, url, headers });
  return app.inject({
    method,
    url,
    headers: { ...headers, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

/** Pushes a one-layer image with the given credentials, through /v2 as a client does. */
async function pushImage(app: FastifyInstance, authorization: string, repo: string, tag: string) {
  const layer = Buffer.from(`layer of ${repo}:${tag}`);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }),
  );
  for (const blob of [layer, config]) {
    const res = await app.inject({
      method: 'POST',
      url: `/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`,
      headers: { authorization, 'content-type': 'application/octet-stream' },
      payload: blob,
    });
    expect(res.statusCode, res.body).toBe(201);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(config),
      size: config.length,
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length },
    ],
  });
  const res = await app.inject({
    method: 'PUT',
    url: `/v2/${repo}/manifests/${tag}`,
    headers: { authorization, 'content-type': MANIFEST_TYPE },
    payload: manifest,
  });
  expect(res.statusCode, res.body).toBe(201);
}

/** A registry token from /service/token for these scopes (credentials optional). */
async function tokenFor(app: FastifyInstance, scopes: string[], authorization?: string): Promise<string> {
  const query = scopes.map((s) => `scope=${encodeURIComponent(s)}`).join('&');
  const res = await call(app, 'GET', `/service/token?service=wharf-registry&${query}`, authorization);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { token: string }).token;
}

function tokenAccess(token: string): Array<{ type: string; name: string; actions: string[] }> {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as {
    access: Array<{ type: string; name: string; actions: string[] }>;
  };
  return payload.access;
}

function ociError(res: LightMyRequestResponse): { code: string; message: string } {
  const body = res.json() as { errors: Array<{ code: string; message: string }> };
  return body.errors[0] as { code: string; message: string };
}

/** Status and body of an answer, with the name the caller gave replaced: what it reveals. */
function answer(res: LightMyRequestResponse, given: string): { status: number; body: string } {
  return { status: res.statusCode, body: res.body.split(given).join('<name>') };
}

async function createUser(app: FastifyInstance, admin: string, user: { name: string; password: string }) {
  const res = await call(app, 'POST', '/api/v2.0/users', admin, {
    username: user.name,
    password: user.password,
    email: `${user.name}@example.test`,
    realname: user.name,
  });
  expect(res.statusCode, res.body).toBe(201);
  return Number((res.headers.location as string).split('/').pop());
}

async function projectId(app: FastifyInstance, admin: string, name: string): Promise<number> {
  const res = await call(app, 'GET', `/api/v2.0/projects/${name}`, admin);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { project_id: number }).project_id;
}

describe('default settings (public projects readable by anyone)', () => {
  let wharf: InProcessWharf;
  let app: FastifyInstance;
  let admin: string;
  const outsider = basicAuth(OUTSIDER.name, OUTSIDER.password);
  const guest = basicAuth(GUEST.name, GUEST.password);
  let secretId: number;

  beforeAll(async () => {
    wharf = await startInProcessWharf({}, { projects: ['secret', 'team'] });
    app = wharf.app;
    admin = wharf.adminAuth;
    await createUser(app, admin, OUTSIDER);
    const guestId = await createUser(app, admin, GUEST);
    const member = await call(app, 'POST', '/api/v2.0/projects/team/members', admin, {
      role_id: 3,
      member_user: { user_id: guestId },
    });
    expect(member.statusCode, member.body).toBe(201);
    secretId = await projectId(app, admin, 'secret');
    await pushImage(app, admin, 'secret/app', 'v1');
    await pushImage(app, admin, 'team/app', 'v1');
    await pushImage(app, admin, 'library/web', 'v1');
  });
  afterAll(async () => {
    await wharf?.close();
  });

  describe('point 2: registry tokens are not API credentials', () => {
    it('a token of the administrator neither lists users nor probes project names', async () => {
      const token = `Bearer ${await tokenFor(app, ['repository:library/web:pull'], admin)}`;
      // The token is good on /v2 ...
      expect((await call(app, 'GET', '/v2/library/web/manifests/v1', token)).statusCode).toBe(200);
      // ... and is no one on the API.
      const search = await call(app, 'GET', '/api/v2.0/users/search?username=o', token);
      expect(search.statusCode).toBe(401);
      expect(search.body).not.toContain(OUTSIDER.name);
      expect((await call(app, 'HEAD', '/api/v2.0/projects?project_name=secret', token)).statusCode).toBe(401);
      expect((await call(app, 'GET', '/api/v2.0/users/current', token)).statusCode).toBe(401);
      expect((await call(app, 'GET', '/api/v2.0/users', token)).statusCode).toBe(401);
      expect((await call(app, 'GET', `/api/v2.0/projects/${secretId}`, token)).statusCode).toBe(401);
    });

    it('an anonymous token is no credential either', async () => {
      const token = `Bearer ${await tokenFor(app, ['repository:library/web:pull'])}`;
      expect((await call(app, 'GET', '/api/v2.0/users/search?username=o', token)).statusCode).toBe(401);
      expect((await call(app, 'HEAD', '/api/v2.0/projects?project_name=secret', token)).statusCode).toBe(401);
    });

    it('signed-in users still search users and check project names they may see', async () => {
      const search = await call(app, 'GET', '/api/v2.0/users/search?username=outs', guest);
      expect(search.statusCode).toBe(200);
      expect(search.json()).toEqual([expect.objectContaining({ username: OUTSIDER.name })]);
      expect((await call(app, 'HEAD', '/api/v2.0/projects?project_name=team', guest)).statusCode).toBe(200);
      expect((await call(app, 'HEAD', '/api/v2.0/projects?project_name=library', guest)).statusCode).toBe(
        200,
      );
    });
  });

  describe('point 11: a project the caller may not see answers as a missing one', () => {
    it('on the API, by name, by id and with HEAD /projects?project_name=', async () => {
      const pairs: Array<[string, string, string, string]> = [
        ['GET', '/api/v2.0/projects/secret', '/api/v2.0/projects/nosuchproj', 'nosuchproj'],
        ['GET', `/api/v2.0/projects/${secretId}`, '/api/v2.0/projects/987654', '987654'],
        ['GET', `/api/v2.0/projects/${secretId}/summary`, '/api/v2.0/projects/987654/summary', '987654'],
        [
          'GET',
          '/api/v2.0/projects/secret/repositories',
          '/api/v2.0/projects/nosuchproj/repositories',
          'nosuchproj',
        ],
        [
          'GET',
          '/api/v2.0/projects/secret/repositories/app/artifacts',
          '/api/v2.0/projects/nosuchproj/repositories/app/artifacts',
          'nosuchproj',
        ],
        ['GET', '/api/v2.0/projects/secret/members', '/api/v2.0/projects/nosuchproj/members', 'nosuchproj'],
        [
          'GET',
          `/api/v2.0/robots?q=Level=project,ProjectID=${secretId}`,
          '/api/v2.0/robots?q=Level=project,ProjectID=987654',
          '987654',
        ],
        ['HEAD', '/api/v2.0/projects?project_name=secret', '/api/v2.0/projects?project_name=nosuchproj', ''],
        [
          'GET',
          `/api/v2.0/users/current/permissions?scope=/project/${secretId}`,
          '/api/v2.0/users/current/permissions?scope=/project/987654',
          '987654',
        ],
      ];
      for (const who of [outsider, undefined]) {
        for (const [method, existing, missing, given] of pairs) {
          if (who === undefined && method === 'HEAD') continue; // anonymous: 401 for any name
          const seen = await call(app, method as 'GET', existing, who);
          const absent = await call(app, method as 'GET', missing, who);
          const secretGiven = given === '987654' ? String(secretId) : given === '' ? '' : 'secret';
          const label = `${who ? 'outsider' : 'anonymous'} ${method} ${existing}`;
          expect(absent.statusCode, label).not.toBe(200);
          expect(given === '' ? { status: seen.statusCode } : answer(seen, secretGiven), label).toEqual(
            given === '' ? { status: absent.statusCode } : answer(absent, given),
          );
        }
      }
      // The administrator, who sees every project, gets the truth.
      expect((await call(app, 'HEAD', '/api/v2.0/projects?project_name=secret', admin)).statusCode).toBe(200);
      expect((await call(app, 'GET', `/api/v2.0/projects/${secretId}`, outsider)).statusCode).toBe(404);
    });

    it('on /v2 with Basic credentials and with tokens, for pulls and pushes', async () => {
      const requests: Array<['GET' | 'HEAD' | 'POST', (project: string) => string]> = [
        ['GET', (p) => `/v2/${p}/app/manifests/v1`],
        ['HEAD', (p) => `/v2/${p}/app/manifests/v1`],
        ['GET', (p) => `/v2/${p}/app/tags/list`],
        ['POST', (p) => `/v2/${p}/app/blobs/uploads/`],
      ];
      const outsiderToken = async (project: string) =>
        `Bearer ${await tokenFor(app, [`repository:${project}/app:pull,push`], outsider)}`;
      for (const [method, path] of requests) {
        for (const [who, auth] of [
          ['basic', async () => outsider],
          ['token', outsiderToken],
          ['anonymous', async () => undefined],
        ] as const) {
          const seen = await call(app, method, path('secret'), await auth('secret'));
          const absent = await call(app, method, path('nosuchproj'), await auth('nosuchproj'));
          const label = `${who} ${method} ${path('secret')}`;
          expect(answer(seen, 'secret'), label).toEqual(answer(absent, 'nosuchproj'));
          expect(String(seen.headers['www-authenticate'] ?? '').replace('secret', '<name>'), label).toBe(
            String(absent.headers['www-authenticate'] ?? '').replace('nosuchproj', '<name>'),
          );
          // Signed in with the right credentials: never an authentication error for a name.
          expect(seen.statusCode, label).toBe(who === 'anonymous' ? 401 : 404);
        }
      }
    });
  });

  describe('point 11 and 14: ids and times out of range (found in review)', () => {
    it('a label of a private project answers to an outsider as a missing label', async () => {
      const made = await call(app, 'POST', '/api/v2.0/labels', admin, {
        name: 'secret-label',
        scope: 'p',
        project_id: secretId,
      });
      expect(made.statusCode, made.body).toBe(201);
      const id = String(made.headers.location).split('/').pop() as string;
      const seen = await call(app, 'GET', `/api/v2.0/labels/${id}`, outsider);
      const absent = await call(app, 'GET', '/api/v2.0/labels/987654', outsider);
      expect(absent.statusCode).toBe(404);
      expect(answer(seen, id)).toEqual(answer(absent, '987654'));
    });

    it('a project id beyond bigint and a time beyond PostgreSQL are 4xx, not 500', async () => {
      const huge = await call(
        app,
        'GET',
        '/api/v2.0/users/current/permissions?scope=/project/99999999999999999999',
        admin,
      );
      expect(huge.statusCode, huge.body).toBe(404);
      const early = await call(
        app,
        'GET',
        `/api/v2.0/audit-logs?q=${encodeURIComponent('op_time=[-010000-01-01T00:00:00Z~]')}`,
        admin,
      );
      expect(early.statusCode, early.body).toBe(400);
    });
  });

  describe('point 16: a signed-in client is told about the name, not asked to authenticate', () => {
    it('pushing to a missing project with a valid token answers NAME_UNKNOWN naming the project', async () => {
      const token = `Bearer ${await tokenFor(app, ['repository:nosuchproj/app:pull,push'], admin)}`;
      const head = await call(app, 'HEAD', `/v2/nosuchproj/app/blobs/${sha256(Buffer.from('x'))}`, token);
      expect(head.statusCode).toBe(404);
      expect(head.headers['www-authenticate']).toBeUndefined();
      const post = await call(app, 'POST', '/v2/nosuchproj/app/blobs/uploads/', token);
      expect(post.statusCode).toBe(404);
      expect(post.headers['www-authenticate']).toBeUndefined();
      expect(ociError(post)).toEqual({
        code: 'NAME_UNKNOWN',
        message: 'project nosuchproj does not exist; create it first',
      });
      // The same with Basic credentials.
      const basic = await call(app, 'POST', '/v2/nosuchproj/app/blobs/uploads/', admin);
      expect(ociError(basic)).toEqual(ociError(post));
    });

    it('a member without push is DENIED by name; a non-administrator learns nothing of private projects', async () => {
      const token = `Bearer ${await tokenFor(app, ['repository:team/app:pull,push'], guest)}`;
      expect(tokenAccess(token.slice(7))).toEqual([
        { type: 'repository', name: 'team/app', actions: ['pull'] },
      ]);
      const post = await call(app, 'POST', '/v2/team/app/blobs/uploads/', token);
      expect(post.statusCode).toBe(403);
      expect(ociError(post)).toEqual({ code: 'DENIED', message: 'push on team/app is not allowed' });
      const missing = await call(
        app,
        'POST',
        '/v2/nosuchproj/app/blobs/uploads/',
        `Bearer ${await tokenFor(app, ['repository:nosuchproj/app:pull,push'], guest)}`,
      );
      expect(ociError(missing)).toEqual({
        code: 'NAME_UNKNOWN',
        message: 'project nosuchproj does not exist or you have no access to it',
      });
    });

    it('a token that only lacks a scope its account holds is challenged again for that scope', async () => {
      const token = `Bearer ${await tokenFor(app, ['repository:team/app:pull'], admin)}`;
      const post = await call(app, 'POST', '/v2/team/app/blobs/uploads/', token);
      expect(post.statusCode).toBe(401);
      expect(post.headers['www-authenticate']).toContain('scope="repository:team/app:pull,push"');
    });
  });

  describe('point 17: public means public', () => {
    it('anonymous clients pull from a public project, with or without a token', async () => {
      expect((await call(app, 'GET', '/v2/library/web/manifests/v1')).statusCode).toBe(200);
      const token = await tokenFor(app, ['repository:library/web:pull,push']);
      expect(tokenAccess(token)).toEqual([{ type: 'repository', name: 'library/web', actions: ['pull'] }]);
      expect((await call(app, 'GET', '/v2/library/web/manifests/v1', `Bearer ${token}`)).statusCode).toBe(
        200,
      );
      // Pulling only: a push is still asked to sign in.
      expect((await call(app, 'POST', '/v2/library/web/blobs/uploads/')).statusCode).toBe(401);
    });

    it('an anonymous pull from a private project says the project is not public', async () => {
      const res = await call(app, 'GET', '/v2/secret/app/manifests/v1');
      expect(res.statusCode).toBe(401);
      expect(ociError(res).message).toBe(
        'secret/app is not in a public project, or does not exist: sign in to pull it',
      );
    });
  });
});

describe('point 3: a robot deny entry wins over its allows', () => {
  let wharf: InProcessWharf;
  let app: FastifyInstance;
  let robot: string;

  beforeAll(async () => {
    wharf = await startInProcessWharf({}, { projects: ['denied'] });
    app = wharf.app;
    await pushImage(app, wharf.adminAuth, 'denied/app', 'v1');
    const res = await call(app, 'POST', '/api/v2.0/robots', wharf.adminAuth, {
      name: 'ci',
      level: 'project',
      duration: 30,
      permissions: [
        {
          kind: 'project',
          namespace: 'denied',
          access: [
            { resource: 'project', action: 'read' },
            { resource: 'repository', action: 'pull' },
            { resource: 'repository', action: 'push' },
            { resource: 'repository', action: 'list' },
            { resource: 'artifact', action: 'list' },
            { resource: 'repository', action: 'push', effect: 'deny' },
            { resource: 'artifact', action: 'list', effect: 'deny' },
          ],
        },
      ],
    });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json() as { name: string; secret: string };
    robot = basicAuth(created.name, created.secret);
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('in the token service: the denied action is not granted', async () => {
    const token = await tokenFor(app, ['repository:denied/app:pull,push'], robot);
    expect(tokenAccess(token)).toEqual([{ type: 'repository', name: 'denied/app', actions: ['pull'] }]);
  });

  it('on /v2 with Basic credentials: pushes are DENIED, pulls pass', async () => {
    const post = await call(app, 'POST', '/v2/denied/app/blobs/uploads/', robot);
    expect(post.statusCode).toBe(403);
    expect(ociError(post).code).toBe('DENIED');
    expect((await call(app, 'GET', '/v2/denied/app/manifests/v1', robot)).statusCode).toBe(200);
  });

  it('in the API: a denied list is refused, an allowed one answers', async () => {
    expect((await call(app, 'GET', '/api/v2.0/projects/denied/repositories', robot)).statusCode).toBe(200);
    const artifacts = await call(app, 'GET', '/api/v2.0/projects/denied/repositories/app/artifacts', robot);
    expect(artifacts.statusCode).toBe(403);
  });
});

describe('point 17: one setting requires sign-in everywhere', () => {
  for (const [label, auth] of [
    ['auth.require_signin: true', { require_signin: true }],
    ['the older auth.anonymous_pull: false', { anonymous_pull: false }],
  ] as const) {
    describe(label, () => {
      let wharf: InProcessWharf;
      let app: FastifyInstance;
      beforeAll(async () => {
        wharf = await startInProcessWharf({ auth });
        app = wharf.app;
        await pushImage(app, wharf.adminAuth, 'library/web', 'v1');
      });
      afterAll(async () => {
        await wharf?.close();
      });

      it('anonymous callers get no token, no pull and no API read, and are told why', async () => {
        const token = await call(
          app,
          'GET',
          '/service/token?service=wharf-registry&scope=repository:library/web:pull',
        );
        expect(token.statusCode).toBe(401);
        expect(token.headers['www-authenticate']).toMatch(/^Basic realm=/);
        expect(token.body).not.toContain('"token"');
        const pull = await call(app, 'GET', '/v2/library/web/manifests/v1');
        expect(pull.statusCode).toBe(401);
        expect(pull.headers['www-authenticate']).toContain('scope="repository:library/web:pull"');
        expect(ociError(pull).message).toContain('auth.require_signin');
        expect((await call(app, 'GET', '/api/v2.0/projects/library/repositories')).statusCode).toBe(401);
        expect((await call(app, 'GET', '/api/v2.0/projects/library')).statusCode).toBe(401);
        expect((await call(app, 'GET', '/api/v2.0/projects')).statusCode).toBe(401);
      });

      it('signed-in callers pull as before', async () => {
        expect((await call(app, 'GET', '/v2/library/web/manifests/v1', wharf.adminAuth)).statusCode).toBe(
          200,
        );
        const token = await tokenFor(app, ['repository:library/web:pull'], wharf.adminAuth);
        expect((await call(app, 'GET', '/v2/library/web/manifests/v1', `Bearer ${token}`)).statusCode).toBe(
          200,
        );
      });
    });
  }

  it('refuses a configuration that asks for both', () => {
    expect(() => configSchema.parse({ auth: { require_signin: true, anonymous_pull: true } })).toThrow(
      /anonymous_pull/,
    );
  });
});
