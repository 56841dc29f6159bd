import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';

// Robot accounts through /api/v2.0/robots (Harbor's shapes), and what their credentials then do on
// /v2: push and pull where granted, DENIED elsewhere, and 401 as soon as the robot is disabled,
// its secret refreshed or the robot deleted.

const PASSWORD = 'Robots-Passw0rd';
const PROJECT = 'rp';
const OTHER = 'rp-other';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface RobotCreated {
  id: number;
  name: string;
  secret: string;
  creation_time: string;
  expires_at: number;
}

interface RobotJson {
  id: number;
  name: string;
  description: string;
  level: string;
  duration: number;
  editable: boolean;
  disable: boolean;
  expires_at: number;
  permissions: Array<{
    kind: string;
    namespace: string;
    access: Array<{ resource: string; action: string }>;
  }>;
  creation_time: string;
  update_time: string;
  secret?: unknown;
}

const pullPush = (namespace: string) => [
  {
    kind: 'project',
    namespace,
    access: [
      { resource: 'repository', action: 'pull' },
      { resource: 'repository', action: 'push' },
    ],
  },
];

describe('robot accounts', () => {
  let wharf: InProcessWharf;
  let admin: string;
  let developer: string;
  let projectAdmin: string;
  let projectId: number;
  let digest: string;

  async function api(method: string, path: string, auth: string | undefined, body?: unknown) {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return wharf.fetch(`${wharf.url}${path}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  }

  async function createRobot(auth: string, body: Record<string, unknown>): Promise<RobotCreated> {
    const res = await api('POST', '/api/v2.0/robots', auth, body);
    expect(res.status, await res.clone().text()).toBe(201);
    const created = (await res.json()) as RobotCreated;
    expect(res.headers.get('location')).toBe(`/api/v2.0/robots/${created.id}`);
    return created;
  }

  /** Opening an upload session: the first step of every push. */
  const startPush = (repo: string, auth: string) => api('POST', `/v2/${repo}/blobs/uploads/`, auth);
  const pull = (repo: string, auth: string) => api('GET', `/v2/${repo}/blobs/${digest}`, auth);

  async function addUser(name: string, role: number): Promise<string> {
    const created = await api('POST', '/api/v2.0/users', admin, { username: name, password: PASSWORD });
    expect(created.status).toBe(201);
    const userId = Number(created.headers.get('location')?.split('/').pop());
    const member = await api('POST', `/api/v2.0/projects/${PROJECT}/members`, admin, {
      role_id: role,
      member_user: { user_id: userId },
    });
    expect(member.status).toBe(201);
    return basic(name, PASSWORD);
  }

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: [PROJECT, OTHER] });
    admin = adminAuth(wharf);
    developer = await addUser('r-developer', 2);
    projectAdmin = await addUser('r-padmin', 1);
    projectId = (
      (await (await api('GET', `/api/v2.0/projects/${PROJECT}`, admin)).json()) as {
        project_id: number;
      }
    ).project_id;
    const blob = randomBytes(1024);
    digest = sha256(blob);
    const seeded = await wharf.fetch(`${wharf.url}/v2/${PROJECT}/x/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { authorization: admin },
      body: blob,
    });
    expect(seeded.status).toBe(201);
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('a project robot pushes and pulls in its project, is denied elsewhere, and its secret is shown once', async () => {
    const created = await createRobot(admin, {
      name: 'ci',
      description: 'builds',
      duration: -1,
      level: 'project',
      permissions: pullPush(PROJECT),
    });
    expect(created.name).toBe(`robot$${PROJECT}+ci`);
    expect(created.secret).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(created.expires_at).toBe(-1);

    const got = await api('GET', `/api/v2.0/robots/${created.id}`, admin);
    expect(got.status).toBe(200);
    const robot = (await got.json()) as RobotJson;
    expect(robot).not.toHaveProperty('secret');
    expect(robot).toMatchObject({
      id: created.id,
      name: created.name,
      description: 'builds',
      level: 'project',
      duration: -1,
      editable: true,
      disable: false,
      expires_at: -1,
    });
    expect(robot.permissions).toEqual([
      {
        kind: 'project',
        namespace: PROJECT,
        access: [
          { resource: 'repository', action: 'pull', effect: 'allow' },
          { resource: 'repository', action: 'push', effect: 'allow' },
        ],
      },
    ]);

    const creds = basic(created.name, created.secret);
    expect((await startPush(`${PROJECT}/x`, creds)).status).toBe(202);
    expect((await pull(`${PROJECT}/x`, creds)).status).toBe(200);
    // Another private project answers as a missing one would (issue #10, point 11).
    const denied = await startPush(`${OTHER}/x`, creds);
    expect(denied.status).toBe(404);
    expect(((await denied.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe(
      'NAME_UNKNOWN',
    );
    // A robot is no user: it cannot manage robots it was not granted.
    expect((await api('GET', '/api/v2.0/robots', creds)).status).toBe(403);
  });

  it('lists robots with Harbor q filters and paging', async () => {
    await createRobot(admin, {
      name: 'lister',
      duration: 7,
      level: 'project',
      permissions: pullPush(PROJECT),
    });
    for (const q of [`Level=project,ProjectID=${projectId}`, `level=project,project_id=${projectId}`]) {
      const res = await api('GET', `/api/v2.0/robots?q=${encodeURIComponent(q)}&page_size=1`, admin);
      expect(res.status).toBe(200);
      expect(Number(res.headers.get('x-total-count'))).toBeGreaterThanOrEqual(2);
      expect(res.headers.get('link')).toContain('rel="next"');
      const items = (await res.json()) as RobotJson[];
      expect(items).toHaveLength(1);
      expect(items[0]).not.toHaveProperty('secret');
    }
    const byName = await api(
      'GET',
      `/api/v2.0/robots?q=${encodeURIComponent(`Level=project,ProjectID=${projectId},name=~lister`)}`,
      admin,
    );
    const named = (await byName.json()) as RobotJson[];
    expect(named.map((r) => r.name)).toEqual([`robot$${PROJECT}+lister`]);
    const days = (named[0]?.expires_at ?? 0) - Date.parse(named[0]?.creation_time ?? '') / 1000;
    expect(Math.round(days / 86_400)).toBe(7);
    expect(named[0]?.duration).toBe(7);
    expect((await api('GET', '/api/v2.0/robots', undefined)).status).toBe(401);
  });

  it('a disabled robot is refused at once, and works again when enabled', async () => {
    const created = await createRobot(admin, {
      name: 'toggle',
      duration: -1,
      level: 'project',
      permissions: pullPush(PROJECT),
    });
    const creds = basic(created.name, created.secret);
    expect((await startPush(`${PROJECT}/x`, creds)).status).toBe(202);
    expect((await api('PUT', `/api/v2.0/robots/${created.id}`, admin, { disable: true })).status).toBe(200);
    expect((await startPush(`${PROJECT}/x`, creds)).status).toBe(401);
    expect(
      ((await (await api('GET', `/api/v2.0/robots/${created.id}`, admin)).json()) as RobotJson).disable,
    ).toBe(true);
    expect((await api('PUT', `/api/v2.0/robots/${created.id}`, admin, { disable: false })).status).toBe(200);
    expect((await startPush(`${PROJECT}/x`, creds)).status).toBe(202);
  });

  it('PUT changes description, duration and permissions but never the name or level', async () => {
    const created = await createRobot(admin, {
      name: 'edit',
      duration: -1,
      level: 'project',
      permissions: pullPush(PROJECT),
    });
    const creds = basic(created.name, created.secret);
    expect((await startPush(`${PROJECT}/x`, creds)).status).toBe(202);
    const pullOnly = [
      { kind: 'project', namespace: PROJECT, access: [{ resource: 'repository', action: 'pull' }] },
    ];
    const put = await api('PUT', `/api/v2.0/robots/${created.id}`, admin, {
      name: created.name,
      level: 'project',
      description: 'pull only now',
      duration: 10,
      disable: false,
      permissions: pullOnly,
    });
    expect(put.status).toBe(200);
    expect((await startPush(`${PROJECT}/x`, creds)).status).toBe(403);
    expect((await pull(`${PROJECT}/x`, creds)).status).toBe(200);
    const robot = (await (await api('GET', `/api/v2.0/robots/${created.id}`, admin)).json()) as RobotJson;
    expect(robot.description).toBe('pull only now');
    expect(robot.duration).toBe(10);
    expect(robot.expires_at).toBe(Math.floor(Date.parse(robot.creation_time) / 1000) + 10 * 86_400);

    expect((await api('PUT', `/api/v2.0/robots/${created.id}`, admin, { name: 'renamed' })).status).toBe(400);
    expect((await api('PUT', `/api/v2.0/robots/${created.id}`, admin, { level: 'system' })).status).toBe(400);
    const moved = await api('PUT', `/api/v2.0/robots/${created.id}`, admin, { permissions: pullPush(OTHER) });
    expect(moved.status).toBe(400);
  });

  it('refreshing the secret retires the old one at once', async () => {
    const created = await createRobot(admin, {
      name: 'rotate',
      duration: -1,
      level: 'project',
      permissions: pullPush(PROJECT),
    });
    const old = basic(created.name, created.secret);
    expect((await startPush(`${PROJECT}/x`, old)).status).toBe(202);
    const refreshed = await api('PATCH', `/api/v2.0/robots/${created.id}`, admin, {});
    expect(refreshed.status).toBe(200);
    const { secret } = (await refreshed.json()) as { secret: string };
    expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(secret).not.toBe(created.secret);
    expect((await startPush(`${PROJECT}/x`, old)).status).toBe(401);
    expect((await startPush(`${PROJECT}/x`, basic(created.name, secret))).status).toBe(202);

    // A secret of the caller's choosing: Harbor's rule, and not echoed back.
    expect((await api('PATCH', `/api/v2.0/robots/${created.id}`, admin, { secret: 'weak' })).status).toBe(
      400,
    );
    const chosen = await api('PATCH', `/api/v2.0/robots/${created.id}`, admin, { secret: 'Chosen-Secret-1' });
    expect(chosen.status).toBe(200);
    expect(((await chosen.json()) as { secret: string }).secret).toBe('');
    expect((await startPush(`${PROJECT}/x`, basic(created.name, 'Chosen-Secret-1'))).status).toBe(202);
  });

  it('a caller-chosen secret at creation works', async () => {
    const created = await createRobot(admin, {
      name: 'chosen',
      duration: -1,
      level: 'project',
      secret: 'My-Own-Secret-42',
      permissions: pullPush(PROJECT),
    });
    expect(created.secret).toBe('My-Own-Secret-42');
    expect((await startPush(`${PROJECT}/x`, basic(created.name, 'My-Own-Secret-42'))).status).toBe(202);
  });

  it('a deleted robot is refused at once', async () => {
    const created = await createRobot(admin, {
      name: 'gone',
      duration: -1,
      level: 'project',
      permissions: pullPush(PROJECT),
    });
    const creds = basic(created.name, created.secret);
    expect((await startPush(`${PROJECT}/x`, creds)).status).toBe(202);
    expect((await api('DELETE', `/api/v2.0/robots/${created.id}`, admin)).status).toBe(200);
    expect((await startPush(`${PROJECT}/x`, creds)).status).toBe(401);
    expect((await api('GET', `/api/v2.0/robots/${created.id}`, admin)).status).toBe(404);
    expect((await api('DELETE', `/api/v2.0/robots/${created.id}`, admin)).status).toBe(404);
  });

  it('a system robot with namespace * reaches every project; only system admins make one', async () => {
    const body = { name: 'sysbot', duration: -1, level: 'system', permissions: pullPush('*') };
    expect((await api('POST', '/api/v2.0/robots', projectAdmin, body)).status).toBe(403);
    const created = await createRobot(admin, body);
    expect(created.name).toBe('robot$sysbot');
    const creds = basic(created.name, created.secret);
    expect((await startPush(`${PROJECT}/x`, creds)).status).toBe(202);
    expect((await startPush(`${OTHER}/x`, creds)).status).toBe(202);
    expect((await api('GET', `/api/v2.0/robots/${created.id}`, projectAdmin)).status).toBe(403);
    const all = await api('GET', '/api/v2.0/robots?q=Level%3Dsystem', admin);
    expect(((await all.json()) as RobotJson[]).map((r) => r.name)).toContain('robot$sysbot');
    expect((await api('GET', '/api/v2.0/robots', projectAdmin)).status).toBe(403);
  });

  it('a developer cannot create robots, but may list the project robots', async () => {
    const res = await api('POST', '/api/v2.0/robots', developer, {
      name: 'dev-bot',
      duration: -1,
      level: 'project',
      permissions: pullPush(PROJECT),
    });
    expect(res.status).toBe(403);
    const q = encodeURIComponent(`Level=project,ProjectID=${projectId}`);
    expect((await api('GET', `/api/v2.0/robots?q=${q}`, developer)).status).toBe(200);
  });

  it('a projectAdmin creates project robots within their own rights only', async () => {
    const created = await createRobot(projectAdmin, {
      name: 'padmin-bot',
      duration: 30,
      level: 'project',
      permissions: pullPush(PROJECT),
    });
    expect(created.name).toBe(`robot$${PROJECT}+padmin-bot`);
    expect((await startPush(`${PROJECT}/x`, basic(created.name, created.secret))).status).toBe(202);
    // Manage it: read, update, refresh, delete.
    expect((await api('GET', `/api/v2.0/robots/${created.id}`, projectAdmin)).status).toBe(200);
    expect((await api('PATCH', `/api/v2.0/robots/${created.id}`, projectAdmin, {})).status).toBe(200);
    expect((await api('DELETE', `/api/v2.0/robots/${created.id}`, projectAdmin)).status).toBe(200);

    // project:create is not something a projectAdmin holds.
    const escalate = await api('POST', '/api/v2.0/robots', projectAdmin, {
      name: 'escalate',
      duration: -1,
      level: 'project',
      permissions: [
        { kind: 'project', namespace: PROJECT, access: [{ resource: 'project', action: 'create' }] },
      ],
    });
    expect([400, 403]).toContain(escalate.status);
    // Not a member of the other project.
    const elsewhere = await api('POST', '/api/v2.0/robots', projectAdmin, {
      name: 'elsewhere',
      duration: -1,
      level: 'project',
      permissions: pullPush(OTHER),
    });
    // A private project the caller may not see is not found (issue #10, point 11).
    expect(elsewhere.status).toBe(404);
    // Every project at once is a system robot's business.
    const star = await api('POST', '/api/v2.0/robots', projectAdmin, {
      name: 'star',
      duration: -1,
      level: 'project',
      permissions: pullPush('*'),
    });
    expect(star.status).toBe(400);
  });

  it('rejects malformed robots with 400 and duplicate names with 409', async () => {
    const base = { name: 'valid', duration: -1, level: 'project', permissions: pullPush(PROJECT) };
    const bad: Array<Record<string, unknown>> = [
      { ...base, name: 'Bad+Name' },
      { ...base, level: 'galaxy' },
      { ...base, duration: -2 },
      { ...base, duration: 'forever' },
      { ...base, permissions: [] },
      {
        ...base,
        permissions: [
          { kind: 'project', namespace: PROJECT, access: [{ resource: 'spaceship', action: 'pull' }] },
        ],
      },
      {
        ...base,
        permissions: [
          { kind: 'project', namespace: PROJECT, access: [{ resource: 'repository', action: 'fly' }] },
        ],
      },
      {
        ...base,
        permissions: [
          { kind: 'system', namespace: '/', access: [{ resource: 'repository', action: 'pull' }] },
        ],
      },
      { ...base, permissions: [...pullPush(PROJECT), ...pullPush(OTHER)] },
      { ...base, secret: 'short' },
    ];
    for (const body of bad) {
      const res = await api('POST', '/api/v2.0/robots', admin, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    await createRobot(admin, base);
    expect((await api('POST', '/api/v2.0/robots', admin, base)).status).toBe(409);
    expect((await api('GET', '/api/v2.0/robots/abc', admin)).status).toBe(400);
    expect((await api('GET', '/api/v2.0/robots/999999', admin)).status).toBe(404);
  });
});
