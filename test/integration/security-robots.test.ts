import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth } from '../helpers/api-client.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';

// Issue #10, point 1: robots never gain rights. Each attack is made through the HTTP API by a
// robot holding only the narrow permission the attack needs, and must be refused; the paths
// that stay within the caller's own rights (and lifetime) keep working, for robots and users.

const PROJECT = 'sec';
const OTHER = 'sec-other';
const PASSWORD = 'Security-Passw0rd';

interface Created {
  id: number;
  name: string;
  secret: string;
  expires_at: number;
}

type Access = Array<{ resource: string; action: string }>;

const grants = (...pairs: string[]): Access =>
  pairs.map((pair) => {
    const [resource, action] = pair.split(':') as [string, string];
    return { resource, action };
  });

const onProject = (access: Access, namespace = PROJECT) => [{ kind: 'project', namespace, access }];

/** Everything Harbor's limitedGuest role holds (domain/rbac.ts): what a robot must hold to grant it. */
const LIMITED_GUEST = grants(
  'project:read',
  'quota:read',
  'repository:list',
  'repository:pull',
  'configuration:read',
  'scan:read',
  'scanner:read',
  'tag:list',
  'accessory:list',
  'artifact:read',
  'artifact:list',
  'artifact-addition:read',
);

describe('robots and members never gain rights', () => {
  let wharf: InProcessWharf;
  let admin: string;
  let projectAdmin: string;
  let maintainer: string;

  const call = (method: string, url: string, auth: string | undefined, body?: unknown) =>
    wharf.call(method, url, auth, body);
  const api = (method: string, path: string, auth: string | undefined, body?: unknown) =>
    call(method, `/api/v2.0${path}`, auth, body);

  async function createRobot(
    auth: string,
    name: string,
    access: Access,
    duration: number,
    namespace = PROJECT,
  ): Promise<Created> {
    const res = await api('POST', '/robots', auth, {
      name,
      level: 'project',
      duration,
      permissions: onProject(access, namespace),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as Created;
  }
  const robotAuth = (robot: Pick<Created, 'name' | 'secret'>) => basicAuth(robot.name, robot.secret);
  /** Whether the credentials sign in (GET /v2/ answers 200 to a valid account, 401 otherwise). */
  const signsIn = async (auth: string) => (await call('GET', '/v2/', auth)).status === 200;
  const robotRow = async (id: number) =>
    (await api('GET', `/robots/${id}`, admin)).body as { expires_at: number; duration: number };

  async function addUser(name: string, role?: number): Promise<string> {
    expect((await api('POST', '/users', admin, { username: name, password: PASSWORD })).status).toBe(201);
    if (role !== undefined) {
      const added = await api('POST', `/projects/${PROJECT}/members`, admin, {
        role_id: role,
        member_user: { username: name },
      });
      expect(added.status).toBe(201);
    }
    return basicAuth(name, PASSWORD);
  }

  async function memberId(username: string): Promise<number> {
    const list = (await api('GET', `/projects/${PROJECT}/members?entityname=${username}`, admin))
      .body as Array<{
      id: number;
      entity_name: string;
      role_id: number;
    }>;
    const found = list.find((m) => m.entity_name === username);
    if (!found) throw new Error(`${username} is not a member`);
    return found.id;
  }
  const roleOf = async (username: string) =>
    (
      (await api('GET', `/projects/${PROJECT}/members/${await memberId(username)}`, admin)).body as {
        role_id: number;
      }
    ).role_id;

  beforeAll(async () => {
    wharf = await startInProcessWharf({}, { projects: [PROJECT, OTHER] });
    admin = wharf.adminAuth;
    projectAdmin = await addUser('sec-padmin', 1);
    maintainer = await addUser('sec-maintainer', 4);
    await addUser('sec-outsider');
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('a robot with robot:update cannot reset the secret of a stronger robot and sign in as it', async () => {
    const pusher = await createRobot(
      admin,
      'pusher',
      grants('repository:pull', 'repository:push', 'repository:delete'),
      -1,
    );
    const updater = await createRobot(admin, 'updater', grants('repository:pull', 'robot:update'), -1);
    const attacker = robotAuth(updater);

    const refreshed = await api('PATCH', `/robots/${pusher.id}`, attacker, {});
    expect(refreshed.status).toBe(403);
    const chosen = await api('PATCH', `/robots/${pusher.id}`, attacker, { secret: 'Taken-Over-1' });
    expect(chosen.status).toBe(403);
    expect(await signsIn(basicAuth(pusher.name, 'Taken-Over-1'))).toBe(false);
    expect(await signsIn(robotAuth(pusher))).toBe(true);
    // Nor can it change or delete it.
    expect((await api('PUT', `/robots/${pusher.id}`, attacker, { description: 'mine now' })).status).toBe(
      403,
    );
    expect((await api('PUT', `/robots/${pusher.id}`, attacker, { disable: true })).status).toBe(403);
    expect(await signsIn(robotAuth(pusher))).toBe(true);

    // A robot that holds no more and ends no sooner is within its rights.
    const puller = await createRobot(admin, 'puller', grants('repository:pull'), 3);
    const own = await api('PATCH', `/robots/${puller.id}`, attacker, { secret: 'Rotated-Secret-9' });
    expect(own.status).toBe(200);
    expect(await signsIn(basicAuth(puller.name, 'Rotated-Secret-9'))).toBe(true);
  });

  it('a robot with robot:update cannot make itself or another robot never expire, nor outlive itself', async () => {
    const updater = await createRobot(admin, 'extender', grants('repository:pull', 'robot:update'), 5);
    const peer = await createRobot(admin, 'peer', grants('repository:pull'), 2);
    const attacker = robotAuth(updater);
    const before = await robotRow(updater.id);

    expect((await api('PUT', `/robots/${updater.id}`, attacker, { duration: -1 })).status).toBe(403);
    expect((await api('PUT', `/robots/${updater.id}`, attacker, { duration: 365 })).status).toBe(403);
    expect((await api('PUT', `/robots/${peer.id}`, attacker, { duration: -1 })).status).toBe(403);
    expect((await api('PUT', `/robots/${peer.id}`, attacker, { duration: 30 })).status).toBe(403);
    expect(await robotRow(updater.id)).toMatchObject({ duration: 5, expires_at: before.expires_at });
    expect((await robotRow(peer.id)).duration).toBe(2);

    // Within its own lifetime it may shorten or extend the peer, and shorten itself.
    expect((await api('PUT', `/robots/${peer.id}`, attacker, { duration: 4 })).status).toBe(200);
    expect((await api('PUT', `/robots/${updater.id}`, attacker, { duration: 4 })).status).toBe(200);
    expect((await robotRow(updater.id)).duration).toBe(4);
  });

  it('a robot with robot:create cannot mint a never-expiring or stronger copy of itself', async () => {
    const own = grants('project:read', 'repository:pull', 'robot:create');
    const creator = await createRobot(admin, 'minter', own, 7);
    const attacker = robotAuth(creator);
    const mint = (name: string, access: Access, duration?: number) =>
      api('POST', '/robots', attacker, {
        name,
        level: 'project',
        ...(duration !== undefined && { duration }),
        permissions: onProject(access),
      });

    expect((await mint('forever', own, -1)).status).toBe(403);
    expect((await mint('longer', own, 30)).status).toBe(403);
    // No duration means Harbor's default of 30 days: longer than the creator has left.
    expect((await mint('default', own)).status).toBe(403);
    expect((await mint('stronger', [...own, ...grants('repository:push')], 1)).status).toBe(403);
    expect((await mint('updater', [...own, ...grants('robot:update')], 1)).status).toBe(403);
    // Nor in a project it has no rights in (404 where such a project is not revealed).
    expect(
      (
        await api('POST', '/robots', attacker, {
          name: 'abroad',
          level: 'project',
          duration: 1,
          permissions: onProject(grants('repository:pull'), OTHER),
        })
      ).status,
    ).toBeOneOf([403, 404]);
    expect((await api('GET', `/robots?q=${encodeURIComponent('name=~forever')}`, admin)).body).toEqual([]);

    // A copy that ends no later than the creator is allowed.
    const copy = (await mint('copy', own, 6)).body as Created;
    expect(copy.expires_at).toBeGreaterThan(0);
    expect(copy.expires_at).toBeLessThanOrEqual((await robotRow(creator.id)).expires_at);
    expect(await signsIn(robotAuth(copy))).toBe(true);
  });

  it('a robot cannot hand on the pull that a public project lends everyone', async () => {
    const shown = await api('POST', '/projects', admin, {
      project_name: 'sec-public',
      metadata: { public: 'true' },
    });
    expect(shown.status).toBe(201);
    const maker = await createRobot(
      admin,
      'public-maker',
      grants('robot:create', 'robot:read', 'robot:list'),
      -1,
      'sec-public',
    );
    // Pull is everyone's only while the project is public: a robot made with it would keep it.
    const minted = await api('POST', '/robots', robotAuth(maker), {
      name: 'public-puller',
      level: 'project',
      duration: 1,
      permissions: onProject(grants('repository:pull'), 'sec-public'),
    });
    expect(minted.status, JSON.stringify(minted.body)).toBe(403);
  });

  it('a robot with member:create or member:update cannot make anyone projectAdmin', async () => {
    const own = [
      ...LIMITED_GUEST,
      ...grants('member:create', 'member:read', 'member:list', 'member:update', 'member:delete'),
    ];
    const memberBot = await createRobot(admin, 'members', own, -1);
    const attacker = robotAuth(memberBot);
    const addAs = (auth: string, role: number) =>
      api('POST', `/projects/${PROJECT}/members`, auth, {
        role_id: role,
        member_user: { username: 'sec-outsider' },
      });
    const add = (role: number) => addAs(attacker, role);

    for (const role of [1, 2, 3, 4]) expect((await add(role)).status, `role ${role}`).toBe(403);
    // A membership never expires: a robot that does cannot grant one, whatever it holds.
    const expiring = await createRobot(admin, 'members-expiring', own, 30);
    expect((await addAs(robotAuth(expiring), 5)).status).toBe(403);
    // The one role whose every grant it holds, a never-expiring robot may give.
    expect((await add(5)).status).toBe(201);
    const outsider = await memberId('sec-outsider');
    const promote = await api('PUT', `/projects/${PROJECT}/members/${outsider}`, attacker, { role_id: 1 });
    expect(promote.status).toBe(403);
    expect(await roleOf('sec-outsider')).toBe(5);

    // Nor can it demote or remove a member stronger than itself.
    const padmin = await memberId('sec-padmin');
    expect(
      (await api('PUT', `/projects/${PROJECT}/members/${padmin}`, attacker, { role_id: 5 })).status,
    ).toBe(403);
    expect((await api('DELETE', `/projects/${PROJECT}/members/${padmin}`, attacker)).status).toBe(403);
    expect(await roleOf('sec-padmin')).toBe(1);

    // A project admin holds every project grant: managing members works as before.
    expect(
      (await api('PUT', `/projects/${PROJECT}/members/${outsider}`, projectAdmin, { role_id: 1 })).status,
    ).toBe(200);
    expect(await roleOf('sec-outsider')).toBe(1);
    expect((await api('DELETE', `/projects/${PROJECT}/members/${outsider}`, projectAdmin)).status).toBe(200);
  });

  it('a projectAdmin manages robots within their rights, and not robots stronger than they are', async () => {
    const bot = await createRobot(
      projectAdmin,
      'padmin-bot',
      grants('repository:pull', 'repository:push'),
      -1,
    );
    expect((await api('PUT', `/robots/${bot.id}`, projectAdmin, { duration: 10 })).status).toBe(200);
    expect((await api('PATCH', `/robots/${bot.id}`, projectAdmin, {})).status).toBe(200);
    expect((await api('DELETE', `/robots/${bot.id}`, projectAdmin)).status).toBe(200);

    // quota:update is no project role's: a system admin's robot holding it is out of reach.
    const strong = await createRobot(admin, 'strong', grants('repository:pull', 'quota:update'), -1);
    expect((await api('PATCH', `/robots/${strong.id}`, projectAdmin, {})).status).toBe(403);
    expect((await api('DELETE', `/robots/${strong.id}`, projectAdmin)).status).toBe(403);
    expect(await signsIn(robotAuth(strong))).toBe(true);
    expect(
      (
        await api('POST', '/robots', projectAdmin, {
          name: 'quota-bot',
          level: 'project',
          duration: -1,
          permissions: onProject(grants('quota:update')),
        })
      ).status,
    ).toBe(403);
    // Not in a project they are no member of (404 where such a project is not revealed).
    expect(
      (
        await api('POST', '/robots', projectAdmin, {
          name: 'elsewhere',
          level: 'project',
          duration: -1,
          permissions: onProject(grants('repository:pull'), OTHER),
        })
      ).status,
    ).toBeOneOf([403, 404]);
    // The system admin still manages every robot.
    expect((await api('PATCH', `/robots/${strong.id}`, admin, {})).status).toBe(200);
  });

  it('a maintainer cannot make a private project public through /metadatas, as through PUT /projects', async () => {
    const isPublic = async () =>
      ((await api('GET', `/projects/${PROJECT}/metadatas`, admin)).body as { public: string }).public;
    expect(await isPublic()).toBe('false');

    expect(
      (await api('PUT', `/projects/${PROJECT}`, maintainer, { metadata: { public: 'true' } })).status,
    ).toBe(403);
    expect((await api('POST', `/projects/${PROJECT}/metadatas`, maintainer, { public: 'true' })).status).toBe(
      403,
    );
    expect(
      (await api('PUT', `/projects/${PROJECT}/metadatas/public`, maintainer, { public: 'true' })).status,
    ).toBe(403);
    expect((await api('DELETE', `/projects/${PROJECT}/metadatas/public`, maintainer)).status).toBe(403);
    expect(await isPublic()).toBe('false');
    // The maintainer still reads the metadata.
    expect((await api('GET', `/projects/${PROJECT}/metadatas/public`, maintainer)).status).toBe(200);

    // The project admin may, on either route.
    expect(
      (await api('PUT', `/projects/${PROJECT}/metadatas/public`, projectAdmin, { public: 'true' })).status,
    ).toBe(200);
    expect(await isPublic()).toBe('true');
    expect(
      (await api('POST', `/projects/${PROJECT}/metadatas`, projectAdmin, { public: 'false' })).status,
    ).toBe(200);
    expect(await isPublic()).toBe('false');
  });
});
