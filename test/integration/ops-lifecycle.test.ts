import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { adminAuth, type WharfHandle } from '../helpers/server.js';
import { startTestWharf } from '../helpers/test-wharf.js';
import { eventually, waitFor } from '../helpers/poll.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Sends a PATCH whose body is written in two parts; `between` runs after the first part. */
function patchInTwoParts(
  url: string,
  auth: string,
  first: Buffer,
  second: Buffer,
  between: () => Promise<void>,
): Promise<{ status: number; error?: string }> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: 'PATCH',
      headers: { authorization: auth, 'content-type': 'application/octet-stream' },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', (err) => resolve({ status: 0, error: err.message }));
    req.write(first, () => {
      between().then(
        () => req.end(second),
        () => req.destroy(),
      );
    });
  });
}

async function startSession(wharf: WharfHandle, repo: string): Promise<string> {
  const res = await fetch(`${wharf.url}/v2/${repo}/blobs/uploads/`, {
    method: 'POST',
    headers: { authorization: adminAuth(wharf) },
  });
  expect(res.status).toBe(202);
  return new URL(res.headers.get('location') as string, wharf.url).toString();
}

describe('configuration errors stop the start with a message naming the key', () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('rejects a wrong type, an unknown key and a bad flag', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-cfg-'));
    const file = join(dir, 'bad.yml');
    await writeFile(file, 'http:\n  port: "not a port"\nsurprise: 1\n');
    const bad = await runCli(['serve', '--config', file, '--data-dir', join(dir, 'data')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/http\.port: .*number/i);
    expect(bad.stderr).toMatch(/unknown key\(s\) "surprise"/);

    const yaml = join(dir, 'broken.yml');
    await writeFile(yaml, 'http: [unclosed\n');
    const broken = await runCli(['serve', '--config', yaml]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/not valid YAML/);

    const flag = await runCli(['serve', '--port', 'abc']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--port: must be a number/);

    const env = await runCli(['serve', '--data-dir', join(dir, 'data')], { WHARF_ADMIN_PASSWORD: 'short' });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/admin_password: must be at least 8 characters/);
  });
});

describe('first start without a configured admin password', () => {
  let wharf: WharfHandle | undefined;
  afterAll(async () => {
    await wharf?.stop();
  });

  it('prints a generated password once, which then works, and not again on restart', async () => {
    wharf = await startTestWharf({ adminPassword: null });
    const w = wharf;
    // The listener answers before the banner has come through the pipe: wait for it.
    const password = await waitFor(
      'the generated password on stdout',
      async () => /password:\s+(\S+)\s/.exec(w.output())?.[1],
      10_000,
    );
    const ok = await fetch(`${wharf.url}/v2/`, {
      headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` },
    });
    expect(ok.status).toBe(200);
    await wharf.restart();
    expect(wharf.output()).not.toContain(password);
  });
});

describe('graceful shutdown on SIGTERM', () => {
  let wharf: WharfHandle | undefined;
  afterAll(async () => {
    await wharf?.stop();
  });

  it('reports not ready while still serving, finishes the in-flight upload, refuses new work, exits 0', async () => {
    wharf = await startTestWharf({ drainSeconds: 3 });
    const w = wharf;
    expect((await fetch(`${w.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${w.url}/livez`)).status).toBe(200);
    const location = await startSession(w, 'ops/drain');
    const first = randomBytes(512 * 1024);
    const second = randomBytes(512 * 1024);
    const pid = w.pid();
    const result = await patchInTwoParts(location, adminAuth(w), first, second, async () => {
      process.kill(pid, 'SIGTERM');
      // Draining: the load balancer is told to stop sending (readyz 503), but what still arrives is
      // served, each response closing its connection. (Polled: the signal takes a moment to arrive.)
      const ready = await eventually(
        'readyz to say 503',
        () => fetch(`${w.url}/readyz`),
        (r) => r.status === 503,
        2_000,
        50,
      );
      expect(ready.headers.get('retry-after')).toBe('1');
      const served = await fetch(`${w.url}/v2/`, { headers: { authorization: adminAuth(w) } });
      expect(served.status).toBe(200);
      expect(served.headers.get('connection')).toBe('close');
      // Closing: once the drain is over the listener is shut, so a new connection is refused (the
      // load balancer sends the request elsewhere), while the in-flight upload goes on.
      const refused = await eventually(
        'the listener to close',
        () =>
          fetch(`${w.url}/v2/`, { headers: { authorization: adminAuth(w) } }).then(
            () => false,
            () => true,
          ),
        (closed) => closed,
        15_000,
        100,
      );
      expect(refused).toBe(true);
    });
    expect(result.status).toBe(202);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !w.exitStatus()) await new Promise((r) => setTimeout(r, 100));
    expect(w.exitStatus(), 'process exited within the bound').toEqual({ code: 0, signal: null });
  });
});

describe('kill -9 in the middle of a chunked upload', () => {
  let wharf: WharfHandle | undefined;
  afterAll(async () => {
    await wharf?.stop();
  });

  it('continues after restart, never shows a partial blob, and fsck finds the store clean', async () => {
    wharf = await startTestWharf();
    const w = wharf;
    const chunk1 = randomBytes(3 * 1024 * 1024);
    const chunk2 = randomBytes(2 * 1024 * 1024 + 123);
    const whole = Buffer.concat([chunk1, chunk2]);
    const digest = sha256(whole);
    const location = await startSession(w, 'ops/crash');

    const patch1 = await fetch(location, {
      method: 'PATCH',
      headers: {
        authorization: adminAuth(w),
        'content-type': 'application/octet-stream',
        'content-range': `0-${chunk1.length - 1}`,
      },
      body: chunk1,
    });
    expect(patch1.status).toBe(202);
    const next = new URL(patch1.headers.get('location') as string, w.url).toString();

    // Half of the second chunk arrives, then the server dies.
    const interrupted = await patchInTwoParts(
      next,
      adminAuth(w),
      chunk2.subarray(0, 1024 * 1024),
      chunk2.subarray(1024 * 1024),
      () => w.kill(),
    );
    expect(interrupted.status).not.toBe(202);
    await w.restart();

    const status = await fetch(next, { headers: { authorization: adminAuth(w) } });
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${chunk1.length - 1}`);
    const partial = await fetch(`${w.url}/v2/ops/crash/blobs/${digest}`, {
      method: 'HEAD',
      headers: { authorization: adminAuth(w) },
    });
    expect(partial.status).toBe(404);

    const patch2 = await fetch(next, {
      method: 'PATCH',
      headers: {
        authorization: adminAuth(w),
        'content-type': 'application/octet-stream',
        'content-range': `${chunk1.length}-${whole.length - 1}`,
      },
      body: chunk2,
    });
    expect(patch2.status).toBe(202);
    const put = await fetch(`${next}${next.includes('?') ? '&' : '?'}digest=${digest}`, {
      method: 'PUT',
      headers: { authorization: adminAuth(w) },
    });
    expect(put.status).toBe(201);
    const got = Buffer.from(
      await (
        await fetch(`${w.url}/v2/ops/crash/blobs/${digest}`, { headers: { authorization: adminAuth(w) } })
      ).arrayBuffer(),
    );
    expect(sha256(got)).toBe(digest);

    await w.kill();
    const fsck = await runCli(['fsck', '--config', w.configPath, '--data-dir', w.dataDir]);
    expect(fsck.stdout).toMatch(/the store is clean/);
    expect(fsck.code).toBe(0);
  });
});
