import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateImage, ociReference } from '../fixtures/image-generator.js';
import { CommandError, createPodman, skopeoCopy, type Creds, type PodmanClient } from '../helpers/clients.js';
import { adminAuth, startWharf, type WharfHandle } from '../helpers/server.js';
import { TempDirs } from './support.js';

// Issue #10, point 16, with the real clients: a signed-in client whose credentials are right is
// told what is wrong with the name it pushes to (through the token flow: the token comes without
// access, and /v2 then says why), never "authentication required"; a private project it may not
// see is described in the same words as a missing one (point 11).

const PRIVATE = 'hidden';
const OUTSIDER: Creds = { username: 'stranger', password: 'Stranger-Passw0rd1' };

let wharf: WharfHandle;
let layout: string;
let podman: PodmanClient;
const dirs = new TempDirs();

/** The stderr of a client run that must fail. */
async function failure(run: Promise<unknown>): Promise<string> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CommandError);
  return (err as CommandError).stderr;
}

beforeAll(async () => {
  wharf = await startWharf({ projects: [PRIVATE] });
  const user = await fetch(`${wharf.url}/api/v2.0/users`, {
    method: 'POST',
    headers: { authorization: adminAuth(wharf), 'content-type': 'application/json' },
    body: JSON.stringify({ username: OUTSIDER.username, password: OUTSIDER.password }),
  });
  expect(user.status).toBe(201);
  layout = await dirs.make('name-errors-layout');
  await generateImage(layout, { tag: 'v1', seed: 'name-errors', layers: [{ sizeBytes: 1024 }] });
  podman = await createPodman();
});

afterAll(async () => {
  await podman?.dispose();
  await dirs.removeAll();
  await wharf?.stop();
});

describe('a push to a name the caller cannot use names the project', () => {
  test('skopeo, as the administrator, to a missing project', async () => {
    const admin = { username: wharf.adminUser, password: wharf.adminPassword };
    const stderr = await failure(
      skopeoCopy(ociReference(layout, 'v1'), `docker://${wharf.host}/nosuchproj/app:v1`, {
        creds: admin,
        freshBlobInfoCache: true,
      }),
    );
    expect(stderr).toContain('project nosuchproj does not exist');
    expect(stderr).not.toMatch(/authentication required|unauthorized/i);
  });

  test('skopeo, as a user, gets the same words for a private project and a missing one', async () => {
    const messages: string[] = [];
    for (const project of [PRIVATE, 'nosuchproj']) {
      const stderr = await failure(
        skopeoCopy(ociReference(layout, 'v1'), `docker://${wharf.host}/${project}/app:v1`, {
          creds: OUTSIDER,
          freshBlobInfoCache: true,
        }),
      );
      expect(stderr).toContain(`project ${project} does not exist or you have no access to it`);
      expect(stderr).not.toMatch(/authentication required|unauthorized/i);
      messages.push(/name unknown: .*/.exec(stderr)?.[0].split(project).join('<name>') ?? stderr);
    }
    expect(messages[0]).toBe(messages[1]);
  });

  test('podman, as the administrator, to a missing project', async () => {
    const local = await podman.pull(ociReference(layout, 'v1'));
    const stderr = await failure(
      podman.push(local, `docker://${wharf.host}/nosuchproj/podman:v1`, {
        creds: { username: wharf.adminUser, password: wharf.adminPassword },
        freshBlobInfoCache: true,
      }),
    );
    await podman.rmi(local);
    expect(stderr).toContain('project nosuchproj does not exist');
    expect(stderr).not.toMatch(/authentication required|unauthorized/i);
  });
});
