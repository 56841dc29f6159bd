import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, basicAuth, createdId } from '../helpers/api-client.js';
import { OciClient, expectOciError, expectStatus, type PushedImage } from '../helpers/oci-client.js';
import { adminAuth } from '../helpers/server.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';
import { eventually } from '../helpers/poll.js';

// Harbor's labels over real HTTP: global and project labels (CRUD, scopes, paging), who may do
// what, attaching to artifacts, with_label on artifact views, cascades, and every 4xx answer.

const PASSWORD = 'Labels-Passw0rd';

interface LabelJson {
  id: number;
  name: string;
  description: string;
  color: string;
  scope: string;
  project_id: number;
  creation_time: string;
  update_time: string;
  deleted: boolean;
}

interface ArtifactJson {
  digest: string;
  labels: LabelJson[] | null;
}

type Who = 'admin' | 'maintainer' | 'developer' | 'guest' | 'outsider' | 'anonymous';

describe('/api/v2.0 labels', () => {
  let wharf: InProcessWharf;
  const call = apiCaller(() => wharf.url);
  const auth: Record<Who, string | undefined> = {
    admin: undefined,
    maintainer: basicAuth('lab-maintainer', PASSWORD),
    developer: basicAuth('lab-developer', PASSWORD),
    guest: basicAuth('lab-guest', PASSWORD),
    // Maintainer of another project, nothing in `lab`.
    outsider: basicAuth('lab-outsider', PASSWORD),
    anonymous: undefined,
  };
  const projectIds: Record<string, number> = {};
  let image: PushedImage;
  let second: PushedImage;

  const as = (who: Who) => (method: string, path: string, body?: unknown) =>
    call(method, path, auth[who], body);
  const json = async <T>(res: Response, status = 200): Promise<T> => {
    await expectStatus(res, status);
    return (await res.json()) as T;
  };
  const create = async (who: Who, body: Record<string, unknown>): Promise<number> => {
    const res = await as(who)('POST', '/labels', body);
    await expectStatus(res, 201);
    expect(res.headers.get('location')).toMatch(/^\/api\/v2\.0\/labels\/\d+$/);
    return createdId(res);
  };
  const artifactPath = (repo: string, reference: string) =>
    `/projects/lab/repositories/${repo}/artifacts/${reference}`;

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: [] });
    auth.admin = adminAuth(wharf);
    for (const name of ['lab', 'other', 'pub', 'doomed']) {
      const res = await as('admin')('POST', '/projects', {
        project_name: name,
        metadata: { public: String(name === 'pub') },
      });
      await expectStatus(res, 201);
      const project = await json<{ project_id: number }>(await as('admin')('GET', `/projects/${name}`));
      projectIds[name] = project.project_id;
    }
    const members: Array<[string, string, number]> = [
      ['lab-maintainer', 'lab', 4],
      ['lab-developer', 'lab', 2],
      ['lab-guest', 'lab', 3],
      ['lab-outsider', 'other', 4],
    ];
    for (const [username, project, role] of members) {
      await expectStatus(await as('admin')('POST', '/users', { username, password: PASSWORD }), 201);
      await expectStatus(
        await as('admin')('POST', `/projects/${project}/members`, {
          role_id: role,
          member_user: { username },
        }),
        201,
      );
    }
    const oci = new OciClient(wharf.url, auth.admin);
    image = await oci.pushImage('lab/app', '1.0');
    second = await oci.pushImage('lab/app', '2.0');
    await oci.pushImage('other/app', '1.0');
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('creates, reads, updates and deletes a global label in Harbor’s shape', async () => {
    const id = await create('admin', {
      name: 'release',
      description: 'shipped',
      color: '#00FF00',
      scope: 'g',
      // Sent by clients that post whole Label objects: ignored for a global label.
      project_id: 0,
      id: 12345,
    });
    const label = await json<LabelJson>(await as('admin')('GET', `/labels/${id}`));
    expect(label).toMatchObject({
      id,
      name: 'release',
      description: 'shipped',
      color: '#00FF00',
      scope: 'g',
      project_id: 0,
      deleted: false,
    });
    expect(new Date(label.creation_time).getTime()).toBeGreaterThan(0);

    // Fields left out keep their value; scope and project never change.
    await expectStatus(
      await as('admin')('PUT', `/labels/${id}`, { name: 'released', color: '#123abc', scope: 'p' }),
      200,
    );
    const updated = await json<LabelJson>(await as('developer')('GET', `/labels/${id}`));
    expect(updated).toMatchObject({ name: 'released', description: 'shipped', color: '#123abc', scope: 'g' });
    expect(new Date(updated.update_time).getTime()).toBeGreaterThanOrEqual(
      new Date(label.update_time).getTime(),
    );

    await expectStatus(await as('admin')('DELETE', `/labels/${id}`), 200);
    await expectOciError(await as('admin')('GET', `/labels/${id}`), 404, 'NOT_FOUND');
    await expectOciError(await as('admin')('DELETE', `/labels/${id}`), 404, 'NOT_FOUND');
    await expectOciError(await as('admin')('PUT', `/labels/${id}`, { name: 'x' }), 404, 'NOT_FOUND');
  });

  it('lets every signed-in caller read global labels and only system administrators change them', async () => {
    const id = await create('admin', { name: 'global-read', scope: 'g' });
    for (const who of ['maintainer', 'developer', 'guest', 'outsider'] as const) {
      await expectStatus(await as(who)('GET', `/labels/${id}`), 200);
      const list = await json<LabelJson[]>(await as(who)('GET', '/labels?scope=g&name=global-read'));
      expect(list.map((l) => l.id)).toEqual([id]);
      await expectOciError(
        await as(who)('POST', '/labels', { name: `g-${who}`, scope: 'g' }),
        403,
        'FORBIDDEN',
      );
      await expectOciError(await as(who)('PUT', `/labels/${id}`, { name: 'taken-over' }), 403, 'FORBIDDEN');
      await expectOciError(await as(who)('DELETE', `/labels/${id}`), 403, 'FORBIDDEN');
    }
    await expectOciError(await as('anonymous')('GET', '/labels?scope=g'), 401, 'UNAUTHORIZED');
    await expectOciError(await as('anonymous')('GET', `/labels/${id}`), 401, 'UNAUTHORIZED');
    // Anonymous callers do not learn which ids exist.
    await expectOciError(await as('anonymous')('GET', '/labels/999999'), 401, 'UNAUTHORIZED');
    await expectOciError(
      await as('anonymous')('POST', '/labels', { name: 'anon', scope: 'g' }),
      401,
      'UNAUTHORIZED',
    );
    await expectOciError(
      await as('anonymous')('PUT', `/labels/${id}`, { name: 'anon' }),
      401,
      'UNAUTHORIZED',
    );
    await expectOciError(await as('anonymous')('DELETE', `/labels/${id}`), 401, 'UNAUTHORIZED');
  });

  it('manages project labels by the project’s roles', async () => {
    const lab = projectIds.lab;
    const id = await create('maintainer', { name: 'qa', color: '#aa0000', scope: 'p', project_id: lab });
    expect(await json<LabelJson>(await as('guest')('GET', `/labels/${id}`))).toMatchObject({
      scope: 'p',
      project_id: lab,
    });
    for (const who of ['developer', 'guest', 'outsider'] as const) {
      // The outsider may not see the private project: it answers as a missing one (issue #10,
      // point 11); members who see it are refused.
      const [status, code] = who === 'outsider' ? [404, 'NOT_FOUND'] : [403, 'FORBIDDEN'];
      await expectOciError(
        await as(who)('POST', '/labels', { name: `p-${who}`, scope: 'p', project_id: lab }),
        status,
        code,
      );
      await expectOciError(await as(who)('PUT', `/labels/${id}`, { name: 'qa2' }), status, code);
      await expectOciError(await as(who)('DELETE', `/labels/${id}`), status, code);
    }
    await expectOciError(await as('outsider')('GET', `/labels/${id}`), 404, 'NOT_FOUND');
    await expectOciError(await as('outsider')('GET', `/labels?scope=p&project_id=${lab}`), 404, 'NOT_FOUND');
    await expectOciError(await as('anonymous')('GET', `/labels/${id}`), 401, 'UNAUTHORIZED');
    await expectOciError(
      await as('anonymous')('GET', `/labels?scope=p&project_id=${lab}`),
      401,
      'UNAUTHORIZED',
    );
    await expectOciError(
      await as('anonymous')('POST', '/labels', { name: 'anon', scope: 'p', project_id: lab }),
      401,
      'UNAUTHORIZED',
    );
    const listed = await json<LabelJson[]>(await as('guest')('GET', `/labels?scope=p&project_id=${lab}`));
    expect(listed.map((l) => l.name)).toContain('qa');
    // A project label does not show among global ones, nor in another project.
    expect((await json<LabelJson[]>(await as('guest')('GET', '/labels?scope=g&name=qa'))).length).toBe(0);
    const other = await json<LabelJson[]>(
      await as('outsider')('GET', `/labels?scope=p&project_id=${projectIds.other}`),
    );
    expect(other.map((l) => l.name)).not.toContain('qa');

    await expectStatus(await as('maintainer')('PUT', `/labels/${id}`, { description: 'quality' }), 200);
    expect(await json<LabelJson>(await as('admin')('GET', `/labels/${id}`))).toMatchObject({
      name: 'qa',
      description: 'quality',
      color: '#aa0000',
    });
    await expectStatus(await as('maintainer')('DELETE', `/labels/${id}`), 200);
  });

  it('shows a public project’s labels to anyone', async () => {
    const id = await create('admin', { name: 'public-one', scope: 'p', project_id: projectIds.pub });
    await expectStatus(await as('anonymous')('GET', `/labels/${id}`), 200);
    const list = await json<LabelJson[]>(
      await as('anonymous')('GET', `/labels?scope=p&project_id=${projectIds.pub}`),
    );
    expect(list.map((l) => l.id)).toEqual([id]);
    await expectOciError(await as('outsider')('PUT', `/labels/${id}`, { name: 'mine' }), 403, 'FORBIDDEN');
  });

  it('answers 409 for a name taken in the same scope and project, and only there', async () => {
    await create('admin', { name: 'dup', scope: 'g' });
    await expectOciError(await as('admin')('POST', '/labels', { name: 'dup', scope: 'g' }), 409, 'CONFLICT');
    await create('admin', { name: 'dup', scope: 'p', project_id: projectIds.lab });
    await create('admin', { name: 'dup', scope: 'p', project_id: projectIds.other });
    await expectOciError(
      await as('maintainer')('POST', '/labels', { name: 'dup', scope: 'p', project_id: projectIds.lab }),
      409,
      'CONFLICT',
    );
    const renamed = await create('admin', { name: 'dup-2', scope: 'g' });
    await expectOciError(await as('admin')('PUT', `/labels/${renamed}`, { name: 'dup' }), 409, 'CONFLICT');
  });

  it('pages with X-Total-Count and Link, filters by name (fuzzy) and q', async () => {
    for (let i = 0; i < 5; i++) await create('admin', { name: `page-${i}`, scope: 'g' });
    const first = await as('guest')('GET', '/labels?scope=g&name=page-&page=1&page_size=2');
    expect((await json<LabelJson[]>(first)).map((l) => l.name)).toEqual(['page-0', 'page-1']);
    expect(first.headers.get('x-total-count')).toBe('5');
    expect(first.headers.get('link')).toMatch(/rel="next"/);
    expect(first.headers.get('link')).not.toMatch(/rel="prev"/);
    const last = await as('guest')('GET', '/labels?scope=g&name=page-&page=3&page_size=2');
    expect((await json<LabelJson[]>(last)).map((l) => l.name)).toEqual(['page-4']);
    expect(last.headers.get('link')).toMatch(/rel="prev"/);
    expect(last.headers.get('link')).not.toMatch(/rel="next"/);
    const fuzzy = await json<LabelJson[]>(
      await as('guest')('GET', `/labels?scope=g&page_size=100&q=${encodeURIComponent('name=~age-3')}`),
    );
    expect(fuzzy.map((l) => l.name)).toEqual(['page-3']);
    const exact = await json<LabelJson[]>(
      await as('guest')('GET', `/labels?scope=g&q=${encodeURIComponent('name=page-')}`),
    );
    expect(exact).toEqual([]);
  });

  it('answers 400 with Harbor’s error body for every malformed request', async () => {
    const admin = as('admin');
    const lab = projectIds.lab;
    const bad: Array<[string, string, unknown]> = [
      ['GET', '/labels', undefined],
      ['GET', '/labels?scope=x', undefined],
      ['GET', '/labels?scope=p', undefined],
      ['GET', '/labels?scope=p&project_id=abc', undefined],
      ['GET', '/labels?scope=p&project_id=-1', undefined],
      ['GET', '/labels?scope=g&page=0', undefined],
      ['GET', '/labels?scope=g&page_size=x', undefined],
      ['GET', '/labels?scope=g&q=bad', undefined],
      ['GET', '/labels/abc', undefined],
      ['POST', '/labels', { scope: 'g' }],
      ['POST', '/labels', { name: '', scope: 'g' }],
      ['POST', '/labels', { name: 'x'.repeat(129), scope: 'g' }],
      ['POST', '/labels', { name: ' padded', scope: 'g' }],
      ['POST', '/labels', { name: 'a\u0007b', scope: 'g' }],
      ['POST', '/labels', { name: 42, scope: 'g' }],
      ['POST', '/labels', { name: 'no-scope' }],
      ['POST', '/labels', { name: 'bad-scope', scope: 'x' }],
      ['POST', '/labels', { name: 'no-project', scope: 'p' }],
      ['POST', '/labels', { name: 'zero-project', scope: 'p', project_id: 0 }],
      ['POST', '/labels', { name: 'text-project', scope: 'p', project_id: String(lab) }],
      ['POST', '/labels', { name: 'float-project', scope: 'p', project_id: 1.5 }],
      ['POST', '/labels', { name: 'red', scope: 'g', color: 'red' }],
      ['POST', '/labels', { name: 'short', scope: 'g', color: '#fff' }],
      ['POST', '/labels', { name: 'num-color', scope: 'g', color: 255 }],
      ['POST', '/labels', { name: 'long-d', scope: 'g', description: 'd'.repeat(1025) }],
      ['POST', '/labels', ['not', 'an', 'object']],
      ['PUT', '/labels/abc', { name: 'x' }],
      // NUL reaches no SQL (PostgreSQL text cannot hold it): refused anywhere in the request.
      ['POST', '/labels', { name: 'nul-d', scope: 'g', description: 'a\u0000b' }],
      ['POST', '/labels', { name: 'nul-k', scope: 'g', 'x\u0000': 1 }],
      ['GET', '/labels?scope=g&name=%00', undefined],
      ['GET', '/labels?scope=g&q=name%3D~a%00', undefined],
      ['GET', '/projects?name=%00', undefined],
      ['GET', '/projects/a%00b', undefined],
    ];
    for (const [method, path, body] of bad) {
      const res = await admin(method, path, body);
      const text = await res.text();
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${text}`).toBe(400);
      expect((JSON.parse(text) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('BAD_REQUEST');
    }
    const invalidJson = await fetch(`${wharf.url}/api/v2.0/labels`, {
      method: 'POST',
      headers: { authorization: auth.admin as string, 'content-type': 'application/json' },
      body: '{"name":',
    });
    await expectOciError(invalidJson, 400, 'BAD_REQUEST');
    const id = await create('admin', { name: 'valid', scope: 'g' });
    await expectOciError(await admin('PUT', `/labels/${id}`, { color: 'blue' }), 400, 'BAD_REQUEST');
    await expectOciError(await admin('PUT', `/labels/${id}`, { name: '' }), 400, 'BAD_REQUEST');
    // A project that does not exist is 404, as any unknown id.
    await expectOciError(
      await admin('POST', '/labels', { name: 'ghost', scope: 'p', project_id: 999999 }),
      404,
      'NOT_FOUND',
    );
    await expectOciError(await admin('GET', '/labels?scope=p&project_id=999999'), 404, 'NOT_FOUND');
    await expectOciError(await admin('GET', '/labels/999999'), 404, 'NOT_FOUND');
  });

  it('attaches labels to artifacts, shows them with_label, and detaches them', async () => {
    const globalId = await create('admin', { name: 'attach-global', scope: 'g', color: '#0000ff' });
    const projectId = await create('maintainer', {
      name: 'attach-project',
      scope: 'p',
      project_id: projectIds.lab,
    });
    const foreignId = await create('admin', { name: 'foreign', scope: 'p', project_id: projectIds.other });
    const path = artifactPath('app', '1.0');

    await expectStatus(await as('developer')('POST', `${path}/labels`, { id: globalId }), 200);
    await expectOciError(await as('developer')('POST', `${path}/labels`, { id: globalId }), 409, 'CONFLICT');
    // By digest too: the same artifact.
    await expectStatus(
      await as('maintainer')('POST', `${artifactPath('app', image.digest)}/labels`, {
        id: projectId,
        name: 'x',
      }),
      200,
    );
    await expectOciError(
      await as('developer')('POST', `${path}/labels`, { id: foreignId }),
      400,
      'BAD_REQUEST',
    );
    await expectOciError(await as('guest')('POST', `${path}/labels`, { id: globalId }), 403, 'FORBIDDEN');
    // A private project the outsider may not see answers as a missing one (issue #10, point 11).
    await expectOciError(await as('outsider')('POST', `${path}/labels`, { id: globalId }), 404, 'NOT_FOUND');
    await expectOciError(
      await as('anonymous')('POST', `${path}/labels`, { id: globalId }),
      401,
      'UNAUTHORIZED',
    );
    await expectOciError(await as('developer')('POST', `${path}/labels`, { id: 999999 }), 404, 'NOT_FOUND');
    await expectOciError(
      await as('developer')('POST', `${artifactPath('app', 'nope')}/labels`, { id: globalId }),
      404,
      'NOT_FOUND',
    );
    await expectOciError(
      await as('developer')('POST', `${artifactPath('missing', '1.0')}/labels`, { id: globalId }),
      404,
      'NOT_FOUND',
    );
    for (const body of [{}, { id: 'x' }, { id: 0 }, { id: -3 }, { id: 1.5 }, [globalId]]) {
      await expectOciError(await as('developer')('POST', `${path}/labels`, body), 400, 'BAD_REQUEST');
    }
    await expectOciError(
      await as('developer')('POST', `${artifactPath('app', 'bad:ref!')}/labels`, { id: globalId }),
      400,
      'BAD_REQUEST',
    );

    // Harbor leaves labels out (null) unless asked.
    const plain = await json<ArtifactJson>(await as('guest')('GET', path));
    expect(plain.labels).toBeNull();
    const one = await json<ArtifactJson>(await as('guest')('GET', `${path}?with_label=true`));
    expect(one.labels?.map((l) => [l.name, l.scope])).toEqual([
      ['attach-global', 'g'],
      ['attach-project', 'p'],
    ]);
    expect(one.labels?.[0]).toMatchObject({ id: globalId, color: '#0000ff', project_id: 0, deleted: false });
    const listed = await json<ArtifactJson[]>(
      await as('guest')('GET', '/projects/lab/repositories/app/artifacts?with_label=true'),
    );
    const byDigest = new Map(listed.map((a) => [a.digest, a.labels]));
    expect(byDigest.get(image.digest)?.map((l) => l.id)).toEqual([globalId, projectId]);
    expect(byDigest.get(second.digest)).toEqual([]);
    const withoutLabels = await json<ArtifactJson[]>(
      await as('guest')('GET', '/projects/lab/repositories/app/artifacts'),
    );
    expect(withoutLabels.every((a) => a.labels === null)).toBe(true);
    await expectOciError(await as('guest')('GET', `${path}?with_label=yes`), 400, 'BAD_REQUEST');

    await expectOciError(await as('guest')('DELETE', `${path}/labels/${globalId}`), 403, 'FORBIDDEN');
    await expectOciError(await as('outsider')('DELETE', `${path}/labels/${globalId}`), 404, 'NOT_FOUND');
    await expectOciError(await as('anonymous')('DELETE', `${path}/labels/${globalId}`), 401, 'UNAUTHORIZED');
    await expectOciError(await as('developer')('DELETE', `${path}/labels/abc`), 400, 'BAD_REQUEST');
    await expectStatus(await as('developer')('DELETE', `${path}/labels/${globalId}`), 200);
    await expectOciError(await as('developer')('DELETE', `${path}/labels/${globalId}`), 404, 'NOT_FOUND');
    await expectOciError(await as('developer')('DELETE', `${path}/labels/999999`), 404, 'NOT_FOUND');
    const after = await json<ArtifactJson>(await as('guest')('GET', `${path}?with_label=true`));
    expect(after.labels?.map((l) => l.id)).toEqual([projectId]);

    // Deleting a label takes it off every artifact.
    await expectStatus(await as('maintainer')('DELETE', `/labels/${projectId}`), 200);
    const gone = await json<ArtifactJson>(await as('guest')('GET', `${path}?with_label=true`));
    expect(gone.labels).toEqual([]);
  });

  it('drops an artifact’s labels with the artifact, and keeps the label', async () => {
    const id = await create('admin', { name: 'cascade-artifact', scope: 'g' });
    const path = artifactPath('app', second.digest);
    await expectStatus(await as('developer')('POST', `${path}/labels`, { id }), 200);
    await expectStatus(await as('admin')('DELETE', path), 200);
    await expectStatus(await as('admin')('GET', `/labels/${id}`), 200);
    // The same manifest pushed again is a new artifact, without the old one's labels (as Harbor).
    const oci = new OciClient(wharf.url, auth.admin);
    await oci.putManifest('lab/app', '2.0', second.bytes, second.mediaType);
    const again = await json<ArtifactJson>(await as('guest')('GET', `${path}?with_label=true`));
    expect(again.labels).toEqual([]);
    await expectStatus(await as('developer')('POST', `${path}/labels`, { id }), 200);
  });

  it('drops a project’s labels with the project', async () => {
    const id = await create('admin', { name: 'cascade-project', scope: 'p', project_id: projectIds.doomed });
    await expectStatus(await as('admin')('DELETE', '/projects/doomed'), 200);
    await expectOciError(await as('admin')('GET', `/labels/${id}`), 404, 'NOT_FOUND');
  });

  it('records label changes in the audit log', async () => {
    const id = await create('admin', { name: 'audited', scope: 'g' });
    // Entries are written when the label's events are dispatched (issue #11): wait for them.
    const labelLog = async () =>
      json<Array<{ resource: string; resource_type: string; operation: string }>>(
        await as('admin')('GET', `/audit-logs?q=${encodeURIComponent('resource_type=label')}&page_size=100`),
      );
    const logs = await eventually('the label create entry', labelLog, (l) =>
      l.some((e) => e.resource === 'audited'),
    );
    expect(logs).toContainEqual(
      expect.objectContaining({ resource: 'audited', resource_type: 'label', operation: 'create' }),
    );
    await expectStatus(await as('admin')('DELETE', `/labels/${id}`), 200);
    const after = await eventually('the label delete entry', labelLog, (l) =>
      l.some((e) => e.resource === 'audited' && e.operation === 'delete'),
    );
    expect(after).toContainEqual(expect.objectContaining({ resource: 'audited', operation: 'delete' }));
  });
});
