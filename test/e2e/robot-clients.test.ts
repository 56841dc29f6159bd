import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateImage, ociReference } from '../fixtures/image-generator.js';
import {
  CommandError,
  createPodman,
  skopeoCopy,
  skopeoInspect,
  type Creds,
  type PodmanClient,
} from '../helpers/clients.js';
import { adminAuth, startWharf, type WharfHandle } from '../helpers/server.js';
import { TempDirs } from './support.js';

// Real clients logging in as a robot account: skopeo copies a generated image into the robot's
// project and inspects it, podman pushes and pulls, all with `robot$project+name:secret`; a push
// into a project the robot holds no permission in fails.

const PROJECT = 'robots';
const OTHER = 'robots-other';

let wharf: WharfHandle;
let robot: Creds;
let layout: string;
let podman: PodmanClient;
const dirs = new TempDirs();

beforeAll(async () => {
  wharf = await startWharf({ projects: [PROJECT, OTHER] });
  const res = await fetch(`${wharf.url}/api/v2.0/robots`, {
    method: 'POST',
    headers: { authorization: adminAuth(wharf), 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'ci',
      duration: -1,
      level: 'project',
      permissions: [
        {
          kind: 'project',
          namespace: PROJECT,
          access: [
            { resource: 'repository', action: 'pull' },
            { resource: 'repository', action: 'push' },
          ],
        },
      ],
    }),
  });
  expect(res.status).toBe(201);
  const created = (await res.json()) as { name: string; secret: string };
  robot = { username: created.name, password: created.secret };
  layout = await dirs.make('robot-layout');
  podman = await createPodman();
});

afterAll(async () => {
  await podman?.dispose();
  await dirs.removeAll();
  await wharf?.stop();
});

describe('container clients as a robot account', () => {
  test('skopeo copies into the robot’s project and inspects it with the robot’s credentials', async () => {
    const image = await generateImage(layout, {
      tag: 'v1',
      seed: 'robot-skopeo',
      layers: [{ sizeBytes: 2048 }],
    });
    const dest = `docker://${wharf.host}/${PROJECT}/robotimg:v1`;
    await skopeoCopy(ociReference(layout, 'v1'), dest, { creds: robot, freshBlobInfoCache: true });
    const inspected = await skopeoInspect(dest, { creds: robot });
    expect(inspected.Digest).toBe(image.digest);
    expect(inspected.Layers).toEqual(image.layers.map((l) => l.digest));

    const denied = await skopeoCopy(
      ociReference(layout, 'v1'),
      `docker://${wharf.host}/${OTHER}/robotimg:v1`,
      {
        creds: robot,
        freshBlobInfoCache: true,
      },
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(denied).toBeInstanceOf(CommandError);
    // A project the robot may not see is described as a missing one (issue #10, point 11).
    expect((denied as CommandError).stderr).toContain(
      `name unknown: project ${OTHER} does not exist or you have no access to it`,
    );
  });

  test('podman pushes and pulls back as the robot', async () => {
    const image = await generateImage(layout, {
      tag: 'pod',
      seed: 'robot-podman',
      layers: [{ sizeBytes: 2048 }],
    });
    const id = await podman.pull(ociReference(layout, 'pod'));
    const ref = `docker://${wharf.host}/${PROJECT}/robotpod:v1`;
    const pushed = await podman.push(id, ref, { creds: robot, freshBlobInfoCache: true });
    expect(pushed).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await skopeoInspect(ref, { creds: robot })).Digest).toBe(pushed);
    await podman.rmi(id);
    expect(await podman.pull(ref, { creds: robot })).toBe(image.config.digest.replace(/^sha256:/, ''));
    await podman.rmi(id);
  });
});
