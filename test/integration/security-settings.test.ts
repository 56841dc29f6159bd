import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';

// Issue #10, point 18: no setting is silently ignored. Harbor's project settings for features
// Wharf does not have (quotas, proxy cache, content trust, scanning, retention) were accepted
// with 201 and then ignored: a 3 MB push passed a project created with a 1,000-byte
// storage_limit. A value asking for such a behaviour is now a 400 naming the setting, on POST and
// PUT /projects and on /metadatas; the values meaning "off" pass. Issue #12 made storage_limit a
// real quota (test/integration/quotas-api.test.ts): only a limit Harbor refuses is a 400 now.

let wharf: InProcessWharf;

beforeAll(async () => {
  wharf = await startInProcessWharf({});
});
afterAll(async () => {
  await wharf?.close();
});

async function call(method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) {
  const res = await wharf.app.inject({
    method,
    url: `/api/v2.0${url}`,
    headers: { authorization: wharf.adminAuth, 'content-type': 'application/json' },
    ...(body !== undefined && { payload: JSON.stringify(body) }),
  });
  return res;
}

function refusal(res: { statusCode: number; body: string }): { status: number; message: string } {
  const parsed = JSON.parse(res.body || '{}') as { errors?: Array<{ code: string; message: string }> };
  return { status: res.statusCode, message: parsed.errors?.[0]?.message ?? '' };
}

let counter = 0;
const projectName = () => `settings-${++counter}`;

describe('settings for features Wharf does not enforce are refused, naming the setting', () => {
  it('POST /projects with a storage_limit Harbor refuses: 400, and no project is made', async () => {
    const name = projectName();
    const res = await call('POST', '/projects', { project_name: name, storage_limit: 0 });
    expect(refusal(res).status).toBe(400);
    expect(refusal(res).message).toContain('storage_limit');
    expect((await call('GET', `/projects/${name}`)).statusCode).toBe(404);
    // A real limit is a quota now, not a setting ignored.
    const limited = projectName();
    const made = await call('POST', '/projects', { project_name: limited, storage_limit: 1000 });
    expect(made.statusCode).toBe(201);
    const summary = JSON.parse((await call('GET', `/projects/${limited}/summary`)).body) as {
      quota: { hard: { storage: number } };
    };
    expect(summary.quota.hard.storage).toBe(1000);
  });

  it.each([
    ['registry_id', { registry_id: 1 }],
    ['cve_allowlist', { cve_allowlist: { items: [{ cve_id: 'CVE-2021-44228' }] } }],
    ['prevent_vul', { metadata: { prevent_vul: 'true' } }],
    ['auto_scan', { metadata: { auto_scan: 'true' } }],
    ['enable_content_trust', { metadata: { enable_content_trust: 'true' } }],
    ['enable_content_trust_cosign', { metadata: { enable_content_trust_cosign: 'true' } }],
    ['auto_sbom_generation', { metadata: { auto_sbom_generation: true } }],
    // retention_id links a tag retention policy (issue #12): only a non-numeric id is refused.
    ['retention_id', { metadata: { retention_id: 'seven' } }],
    ['proxy_speed_kb', { metadata: { proxy_speed_kb: '1024' } }],
  ])('POST /projects asking for %s: 400 naming it', async (key, extra) => {
    const name = projectName();
    const res = await call('POST', '/projects', { project_name: name, ...extra });
    expect(refusal(res).status, res.body).toBe(400);
    expect(refusal(res).message).toContain(key);
    expect((await call('GET', `/projects/${name}`)).statusCode).toBe(404);
  });

  it('the values that mean "off" (Harbor defaults) pass', async () => {
    const name = projectName();
    const res = await call('POST', '/projects', {
      project_name: name,
      storage_limit: -1,
      registry_id: null,
      cve_allowlist: { items: [], expires_at: 0 },
      metadata: {
        public: 'false',
        enable_content_trust: 'false',
        enable_content_trust_cosign: 'false',
        prevent_vul: 'false',
        severity: 'low',
        auto_scan: 'false',
        auto_sbom_generation: 'false',
        reuse_sys_cve_allowlist: 'true',
        proxy_speed_kb: '-1',
      },
    });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('PUT /projects and /metadatas refuse them too, and change nothing', async () => {
    const name = projectName();
    expect((await call('POST', '/projects', { project_name: name })).statusCode).toBe(201);
    const put = await call('PUT', `/projects/${name}`, { metadata: { public: 'true', auto_scan: 'true' } });
    expect(refusal(put).status).toBe(400);
    expect(refusal(put).message).toContain('auto_scan');
    const quota = await call('PUT', `/projects/${name}`, { storage_limit: 0 });
    expect(refusal(quota).status).toBe(400);
    expect(refusal(quota).message).toContain('storage_limit');
    const post = await call('POST', `/projects/${name}/metadatas`, { prevent_vul: 'true' });
    expect(refusal(post).status).toBe(400);
    expect(refusal(post).message).toContain('prevent_vul');
    const one = await call('PUT', `/projects/${name}/metadatas/enable_content_trust`, {
      enable_content_trust: 'true',
    });
    expect(refusal(one).status).toBe(400);
    expect(refusal(one).message).toContain('enable_content_trust');

    const metadata = JSON.parse((await call('GET', `/projects/${name}/metadatas`)).body) as Record<
      string,
      string
    >;
    expect(metadata).toEqual({ public: 'false' });
    // Turning a setting off is always possible.
    expect(
      (await call('PUT', `/projects/${name}/metadatas/auto_scan`, { auto_scan: 'false' })).statusCode,
    ).toBe(200);
  });
});
