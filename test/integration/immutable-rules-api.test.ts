import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, basicAuth, createdId } from '../helpers/api-client.js';
import type { InProcessWharf } from '../helpers/in-process-wharf.js';
import { eventually } from '../helpers/poll.js';
import { adminAuth } from '../helpers/server.js';
import { startInProcessTestWharf } from '../helpers/test-wharf.js';

// /api/v2.0/projects/{p}/immutabletagrules: Harbor's ImmutableRule shape, validation that names
// what is wrong, the per-project limit, who may do what (maintainers and project admins, as
// Harbor's role table) and the audit log.

interface RuleJson {
  id: number;
  project_id: number;
  disabled: boolean;
  priority: number;
  action: string;
  template: string;
  params: Record<string, unknown>;
  tag_selectors: Array<{ kind: string; decoration: string; pattern: string }>;
  scope_selectors: Record<string, Array<{ kind: string; decoration: string; pattern: string }>>;
}

function rule(
  tagPattern: string,
  repoPattern = '**',
  tagDecoration = 'matches',
  repoDecoration = 'repoMatches',
) {
  return {
    action: 'immutable',
    template: 'immutable_template',
    tag_selectors: [{ kind: 'doublestar', decoration: tagDecoration, pattern: tagPattern }],
    scope_selectors: {
      repository: [{ kind: 'doublestar', decoration: repoDecoration, pattern: repoPattern }],
    },
  };
}

describe('/api/v2.0/projects/{p}/immutabletagrules', () => {
  let wharf: InProcessWharf;
  let admin: string;
  const call = apiCaller(() => wharf);
  const RULES = '/projects/vault/immutabletagrules';

  beforeAll(async () => {
    wharf = await startInProcessTestWharf({ projects: ['vault', 'limits', 'elsewhere'] });
    admin = adminAuth(wharf);
    for (const [username, role] of [
      ['maya', 4],
      ['dev', 2],
      ['gus', 3],
    ] as const) {
      const password = `${username}-Passw0rd1`;
      expect((await call('POST', '/users', admin, { username, password })).status).toBe(201);
      const member = await call('POST', '/projects/vault/members', admin, {
        role_id: role,
        member_user: { username },
      });
      expect(member.status).toBe(201);
    }
  });
  afterAll(async () => {
    await wharf?.close();
  });

  it('creates, lists, updates and deletes a rule in Harbor shape', async () => {
    const created = await call('POST', RULES, admin, { ...rule('v*', 'app/**'), priority: 3 });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toMatch(
      /^\/api\/v2\.0\/projects\/vault\/immutabletagrules\/\d+$/,
    );
    const id = createdId(created);

    const listed = await call('GET', RULES, admin);
    expect(listed.status).toBe(200);
    expect(listed.headers.get('x-total-count')).toBe('1');
    const [only] = (await listed.json()) as RuleJson[];
    expect(only).toEqual({
      id,
      project_id: expect.any(Number),
      disabled: false,
      priority: 3,
      action: 'immutable',
      template: 'immutable_template',
      params: {},
      tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: 'v*' }],
      scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: 'app/**' }] },
    });
    // By id as well as by name.
    const byId = await call('GET', `/projects/${only?.project_id}/immutabletagrules`, admin);
    expect(((await byId.json()) as RuleJson[]).map((r) => r.id)).toEqual([id]);

    // Harbor's portal sends the whole rule back to disable it.
    expect((await call('PUT', `${RULES}/${id}`, admin, { ...only, disabled: true })).status).toBe(200);
    const [disabled] = (await (await call('GET', RULES, admin)).json()) as RuleJson[];
    expect(disabled).toMatchObject({ id, disabled: true, priority: 3 });
    const moved = await call('PUT', `${RULES}/${id}`, admin, { ...rule('release-*', '**'), id });
    expect(moved.status).toBe(200);
    const [changed] = (await (await call('GET', RULES, admin)).json()) as RuleJson[];
    expect(changed?.tag_selectors[0]?.pattern).toBe('release-*');
    expect(changed?.disabled).toBe(true);

    expect((await call('PUT', `${RULES}/${id}`, admin, { ...rule('x'), id: id + 1 })).status).toBe(400);
    expect((await call('DELETE', `${RULES}/${id}`, admin)).status).toBe(200);
    expect((await call('DELETE', `${RULES}/${id}`, admin)).status).toBe(404);
    expect((await call('PUT', `${RULES}/${id}`, admin, rule('x'))).status).toBe(404);
    expect((await call('GET', '/projects/nowhere/immutabletagrules', admin)).status).toBe(404);
  });

  it('keeps a rule to its project, refuses a duplicate and more than 15 rules', async () => {
    const other = createdId(await call('POST', '/projects/elsewhere/immutabletagrules', admin, rule('keep')));
    expect((await call('DELETE', `${RULES}/${other}`, admin)).status).toBe(404);
    expect((await call('PUT', `${RULES}/${other}`, admin, rule('x'))).status).toBe(404);

    const limits = '/projects/limits/immutabletagrules';
    expect((await call('POST', limits, admin, rule('dup'))).status).toBe(201);
    const duplicate = await call('POST', limits, admin, rule('dup'));
    expect(duplicate.status).toBe(409);
    expect(await duplicate.json()).toEqual({
      errors: [{ code: 'CONFLICT', message: expect.stringMatching(/same/) }],
    });
    for (let i = 1; i < 15; i++) expect((await call('POST', limits, admin, rule(`t${i}`))).status).toBe(201);
    const tooMany = await call('POST', limits, admin, rule('t15'));
    expect(tooMany.status).toBe(400);
    expect(await tooMany.text()).toMatch(/15 immutability rules/);
    const page = await call('GET', `${limits}?page=2&page_size=10`, admin);
    expect(page.headers.get('x-total-count')).toBe('15');
    expect(((await page.json()) as unknown[]).length).toBe(5);
  });

  it('answers bad rules with a 400 that says what is wrong', async () => {
    const refused = async (body: unknown, message: RegExp) => {
      const res = await call('POST', RULES, admin, body);
      expect(res.status).toBe(400);
      const parsed = (await res.json()) as { errors: Array<{ code: string; message: string }> };
      expect(parsed.errors[0]?.code).toBe('BAD_REQUEST');
      expect(parsed.errors[0]?.message).toMatch(message);
    };
    await refused(
      rule('v[0-9'),
      /tag_selectors\[0\]\.pattern: pattern "v\[0-9" is invalid: a '\[' is not closed/,
    );
    await refused(rule('{a,b'), /'\{' is not closed/);
    await refused(
      rule('v*', '**', 'repoMatches'),
      /tag_selectors\[0\]\.decoration must be one of matches, excludes/,
    );
    await refused(rule('v*', '**', 'matches', 'matches'), /scope_selectors\.repository\[0\]\.decoration/);
    await refused(
      { ...rule('v*'), tag_selectors: [{ kind: 'regex', decoration: 'matches', pattern: 'v' }] },
      /kind must be "doublestar"/,
    );
    await refused({ ...rule('v*'), tag_selectors: [] }, /tag_selectors must name at least one selector/);
    await refused(
      { ...rule(''), scope_selectors: {} },
      /pattern must not be empty.*scope_selectors\.repository must name/,
    );
    await refused(
      { ...rule('v*'), scope_selectors: { namespace: [], repository: rule('x').scope_selectors.repository } },
      /scope_selectors\.namespace is not a scope/,
    );
    await refused({ ...rule('v*'), action: 'retain' }, /action must be "immutable"/);
    await refused({ ...rule('v*'), tag_selectors: 'v*' }, /tag_selectors must be a list of selectors/);
    await refused({ ...rule('v*'), disabled: 'yes' }, /disabled must be true or false/);
    await refused([1], /request body must be a JSON object/);
    expect((await call('GET', RULES, admin)).headers.get('x-total-count')).toBe('0');
  });

  it('lets maintainers and project admins manage rules; developers and guests may not even list them', async () => {
    const as = (user: string) => basicAuth(user, `${user}-Passw0rd1`);
    const made = await call('POST', RULES, as('maya'), rule('m*'));
    expect(made.status).toBe(201);
    const id = createdId(made);
    expect((await call('GET', RULES, as('maya'))).status).toBe(200);
    for (const user of ['dev', 'gus']) {
      expect((await call('GET', RULES, as(user))).status).toBe(403);
      expect((await call('POST', RULES, as(user), rule(`${user}*`))).status).toBe(403);
      expect((await call('PUT', `${RULES}/${id}`, as(user), rule('z'))).status).toBe(403);
      expect((await call('DELETE', `${RULES}/${id}`, as(user))).status).toBe(403);
    }
    expect((await call('GET', RULES, undefined)).status).toBe(401);
    expect((await call('GET', '/projects/limits/immutabletagrules', as('maya'))).status).toBe(404);
    expect((await call('DELETE', `${RULES}/${id}`, as('maya'))).status).toBe(200);
  });

  it('records rule changes in the audit log', async () => {
    const id = createdId(await call('POST', RULES, admin, rule('audited-*', 'svc')));
    expect(
      (await call('PUT', `${RULES}/${id}`, admin, { ...rule('audited-*', 'svc'), disabled: true })).status,
    ).toBe(200);
    expect((await call('DELETE', `${RULES}/${id}`, admin)).status).toBe(200);
    const entries = await eventually(
      'the rule changes in the audit log',
      async () => {
        const res = await call('GET', '/projects/vault/auditlog-exts?page_size=100', admin);
        const all = (await res.json()) as Array<{
          operation: string;
          resource_type: string;
          resource: string;
          operation_description: string;
        }>;
        return all.filter((e) => e.resource_type === 'immutable_rule' && e.resource.includes('audited-*'));
      },
      (found) => found.length >= 3,
    );
    expect(entries.map((e) => e.operation).sort()).toEqual(['create', 'delete', 'update']);
    expect(entries.find((e) => e.operation === 'create')?.operation_description).toBe(
      'created immutable rule repositories repoMatches svc, tags matches audited-*',
    );
  });
});
