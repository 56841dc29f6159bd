import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciClient } from '../helpers/oci-client.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';

// Every role against every registry operation and the project API operations that differ by
// role: each cell of the matrix is asserted, allowed and denied alike, through real HTTP.

type Who =
  | 'sysadmin'
  | 'projectAdmin'
  | 'maintainer'
  | 'developer'
  | 'guest'
  | 'limitedGuest'
  | 'outsider'
  | 'anonymous';
const ROLE_IDS: Partial<Record<Who, number>> = {
  projectAdmin: 1,
  developer: 2,
  guest: 3,
  maintainer: 4,
  limitedGuest: 5,
};
const PASSWORD = 'Matrix-Passw0rd';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// Expected outcome per role: true = allowed.
const V2_MATRIX: Record<'pull' | 'push' | 'delete', Record<Who, boolean>> = {
  pull: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: true,
    developer: true,
    guest: true,
    limitedGuest: true,
    outsider: false,
    anonymous: false,
  },
  push: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: true,
    developer: true,
    guest: false,
    limitedGuest: false,
    outsider: false,
    anonymous: false,
  },
  delete: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: true,
    developer: false,
    guest: false,
    limitedGuest: false,
    outsider: false,
    anonymous: false,
  },
};

const API_MATRIX: Record<
  | 'listMembers'
  | 'addMember'
  | 'updateProject'
  | 'readProject'
  | 'listGlobalLabels'
  | 'listProjectLabels'
  | 'createProjectLabel'
  | 'attachLabel',
  Record<Who, boolean>
> = {
  // Global labels: every signed-in caller reads them.
  listGlobalLabels: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: true,
    developer: true,
    guest: true,
    limitedGuest: true,
    outsider: true,
    anonymous: false,
  },
  listProjectLabels: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: true,
    developer: true,
    guest: true,
    limitedGuest: false,
    outsider: false,
    anonymous: false,
  },
  createProjectLabel: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: true,
    developer: false,
    guest: false,
    limitedGuest: false,
    outsider: false,
    anonymous: false,
  },
  // Harbor's artifact-label create: developers and up.
  attachLabel: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: true,
    developer: true,
    guest: false,
    limitedGuest: false,
    outsider: false,
    anonymous: false,
  },
  readProject: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: true,
    developer: true,
    guest: true,
    limitedGuest: true,
    outsider: false,
    anonymous: false,
  },
  listMembers: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: true,
    developer: true,
    guest: true,
    limitedGuest: false,
    outsider: false,
    anonymous: false,
  },
  addMember: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: false,
    developer: false,
    guest: false,
    limitedGuest: false,
    outsider: false,
    anonymous: false,
  },
  updateProject: {
    sysadmin: true,
    projectAdmin: true,
    maintainer: false,
    developer: false,
    guest: false,
    limitedGuest: false,
    outsider: false,
    anonymous: false,
  },
};

/**
 * How a refusal looks: anonymous callers are asked to sign in (401); a signed-in outsider, who may
 * not see the private project, gets the answer of a missing project (404, issue #10 point 11);
 * members who see it but lack the permission are refused (403).
 */
function refusal(who: Who): number {
  if (who === 'anonymous') return 401;
  return who === 'outsider' ? 404 : 403;
}

describe('role × action matrix', () => {
  let wharf: InProcessWharf;
  const auth: Partial<Record<Who, string>> = {};
  const project = 'matrix';
  const repo = `${project}/app`;
  let blob: Buffer;
  let digest: string;
  let spareUserId = 0;
  let projectId = 0;
  let labelId = 0;

  async function api(method: string, path: string, who: Who, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (auth[who]) headers.authorization = auth[who] as string;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return wharf.fetch(`${wharf.url}${path}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  }

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: [project] });
    auth.sysadmin = adminAuth(wharf);
    for (const who of Object.keys(V2_MATRIX.pull) as Who[]) {
      if (who === 'sysadmin' || who === 'anonymous') continue;
      const created = await api('POST', '/api/v2.0/users', 'sysadmin', {
        username: `m-${who}`,
        password: PASSWORD,
        email: `${who}@example.test`,
      });
      expect(created.status).toBe(201);
      const userId = Number(created.headers.get('location')?.split('/').pop());
      auth[who] = basic(`m-${who}`, PASSWORD);
      const role = ROLE_IDS[who];
      if (role !== undefined) {
        const member = await api('POST', `/api/v2.0/projects/${project}/members`, 'sysadmin', {
          role_id: role,
          member_user: { user_id: userId },
        });
        expect(member.status).toBe(201);
      }
    }
    const spare = await api('POST', '/api/v2.0/users', 'sysadmin', {
      username: 'm-spare',
      password: PASSWORD,
    });
    spareUserId = Number(spare.headers.get('location')?.split('/').pop());
    blob = randomBytes(1024);
    digest = sha256(blob);
    const seeded = await wharf.fetch(`${wharf.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { authorization: auth.sysadmin },
      body: blob,
    });
    expect(seeded.status).toBe(201);
    await new OciClient(wharf.url, auth.sysadmin, wharf.fetch).pushImage(repo, 'labelled');
    const info = (await (await api('GET', `/api/v2.0/projects/${project}`, 'sysadmin')).json()) as {
      project_id: number;
    };
    projectId = info.project_id;
    const label = await api('POST', '/api/v2.0/labels', 'sysadmin', { name: 'global', scope: 'g' });
    expect(label.status).toBe(201);
    labelId = Number(label.headers.get('location')?.split('/').pop());
  });
  afterAll(async () => {
    await wharf?.close();
  });

  const everyone = Object.keys(V2_MATRIX.pull) as Who[];

  for (const who of everyone) {
    it(`${who}: /v2 pull ${V2_MATRIX.pull[who] ? 'allowed' : 'denied'}`, async () => {
      const res = await api('GET', `/v2/${repo}/blobs/${digest}`, who);
      if (V2_MATRIX.pull[who]) expect(res.status).toBe(200);
      else expect(res.status).toBe(refusal(who));
    });

    it(`${who}: /v2 push ${V2_MATRIX.push[who] ? 'allowed' : 'denied'}`, async () => {
      // Opening an upload session is the first step of every push.
      const res = await api('POST', `/v2/${repo}/blobs/uploads/`, who);
      if (V2_MATRIX.push[who]) expect(res.status).toBe(202);
      else {
        expect(res.status).toBe(refusal(who));
        const body = (await res.json()) as { errors: Array<{ code: string }> };
        expect(body.errors[0]?.code).toBe(
          who === 'anonymous' ? 'UNAUTHORIZED' : who === 'outsider' ? 'NAME_UNKNOWN' : 'DENIED',
        );
      }
    });

    it(`${who}: /v2 delete ${V2_MATRIX.delete[who] ? 'allowed' : 'denied'}`, async () => {
      // A tag that does not exist: allowed callers get 404 MANIFEST_UNKNOWN, denied ones 401/403.
      const res = await api('DELETE', `/v2/${repo}/manifests/no-such-tag`, who);
      if (V2_MATRIX.delete[who]) expect(res.status).toBe(404);
      else expect(res.status).toBe(refusal(who));
    });

    it(`${who}: API read project ${API_MATRIX.readProject[who] ? 'allowed' : 'denied'}`, async () => {
      const res = await api('GET', `/api/v2.0/projects/${project}`, who);
      if (API_MATRIX.readProject[who]) expect(res.status).toBe(200);
      else expect(res.status).toBe(refusal(who));
    });

    it(`${who}: API list members ${API_MATRIX.listMembers[who] ? 'allowed' : 'denied'}`, async () => {
      const res = await api('GET', `/api/v2.0/projects/${project}/members`, who);
      if (API_MATRIX.listMembers[who]) expect(res.status).toBe(200);
      else expect(res.status).toBe(refusal(who));
    });

    it(`${who}: API update project ${API_MATRIX.updateProject[who] ? 'allowed' : 'denied'}`, async () => {
      const res = await api('PUT', `/api/v2.0/projects/${project}`, who, {
        metadata: { auto_scan: 'false' },
      });
      if (API_MATRIX.updateProject[who]) expect(res.status).toBe(200);
      else expect(res.status).toBe(refusal(who));
    });

    it(`${who}: API add member ${API_MATRIX.addMember[who] ? 'allowed' : 'denied'}`, async () => {
      const res = await api('POST', `/api/v2.0/projects/${project}/members`, who, {
        role_id: 3,
        member_user: { user_id: spareUserId },
      });
      if (API_MATRIX.addMember[who]) {
        expect(res.status).toBe(201);
        // Undo, so that the next allowed caller can add the same user again.
        const location = res.headers.get('location') as string;
        expect((await api('DELETE', location, 'sysadmin')).status).toBe(200);
      } else expect(res.status).toBe(refusal(who));
    });

    it(`${who}: API list global labels ${API_MATRIX.listGlobalLabels[who] ? 'allowed' : 'denied'}`, async () => {
      const res = await api('GET', '/api/v2.0/labels?scope=g', who);
      if (API_MATRIX.listGlobalLabels[who]) expect(res.status).toBe(200);
      else expect(res.status).toBe(refusal(who));
    });

    it(`${who}: API list project labels ${API_MATRIX.listProjectLabels[who] ? 'allowed' : 'denied'}`, async () => {
      const res = await api('GET', `/api/v2.0/labels?scope=p&project_id=${projectId}`, who);
      if (API_MATRIX.listProjectLabels[who]) expect(res.status).toBe(200);
      else expect(res.status).toBe(refusal(who));
    });

    it(`${who}: API create project label ${API_MATRIX.createProjectLabel[who] ? 'allowed' : 'denied'}`, async () => {
      const res = await api('POST', '/api/v2.0/labels', who, {
        name: `by-${who}`,
        scope: 'p',
        project_id: projectId,
      });
      if (API_MATRIX.createProjectLabel[who]) {
        expect(res.status).toBe(201);
        const location = res.headers.get('location') as string;
        expect((await api('DELETE', location, 'sysadmin')).status).toBe(200);
      } else expect(res.status).toBe(refusal(who));
    });

    it(`${who}: API attach label ${API_MATRIX.attachLabel[who] ? 'allowed' : 'denied'}`, async () => {
      const artifact = `/api/v2.0/projects/${project}/repositories/app/artifacts/labelled`;
      const res = await api('POST', `${artifact}/labels`, who, { id: labelId });
      if (API_MATRIX.attachLabel[who]) {
        expect(res.status).toBe(200);
        // Undo, so that the next allowed caller can attach it again.
        expect((await api('DELETE', `${artifact}/labels/${labelId}`, 'sysadmin')).status).toBe(200);
      } else expect(res.status).toBe(refusal(who));
    });
  }
});
