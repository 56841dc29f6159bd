import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateImage, ociReference, type GeneratedImage } from '../fixtures/image-generator.js';
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

// Real clients as project members of a private project (token flow: the Bearer challenge sends
// them to /service/token with their Basic credentials): a developer pushes and pulls, a guest may
// pull but its push is denied, anonymous clients get nothing from the private project but may
// pull from the public one.

const PRIVATE = 'team';
const PASSWORD = 'Member-Passw0rd';

let wharf: WharfHandle;
let layout: string;
let image: GeneratedImage;
let podman: PodmanClient;
const dirs = new TempDirs();
const developer: Creds = { username: 'dev', password: PASSWORD };
const guest: Creds = { username: 'visitor', password: PASSWORD };

async function api(method: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${wharf.url}/api/v2.0${path}`, {
    method,
    headers: { authorization: adminAuth(wharf), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  wharf = await startWharf({ projects: [PRIVATE], anonymousPull: true });
  for (const [creds, role] of [
    [developer, 2],
    [guest, 3],
  ] as const) {
    const user = await api('POST', '/users', { username: creds.username, password: creds.password });
    expect(user.status).toBe(201);
    const id = Number(user.headers.get('location')?.split('/').pop());
    expect(
      (await api('POST', `/projects/${PRIVATE}/members`, { role_id: role, member_user: { user_id: id } }))
        .status,
    ).toBe(201);
  }
  layout = await dirs.make('member-layout');
  image = await generateImage(layout, { tag: 'v1', seed: 'member-clients', layers: [{ sizeBytes: 4096 }] });
  podman = await createPodman();
});

afterAll(async () => {
  await podman?.dispose();
  await dirs.removeAll();
  await wharf?.stop();
});

describe('container clients as project members', () => {
  test('a developer pushes and pulls with skopeo; a guest pulls; digests match', async () => {
    const dest = `docker://${wharf.host}/${PRIVATE}/app:v1`;
    await skopeoCopy(ociReference(layout, 'v1'), dest, { creds: developer, freshBlobInfoCache: true });
    expect((await skopeoInspect(dest, { creds: developer })).Digest).toBe(image.digest);
    expect((await skopeoInspect(dest, { creds: guest })).Digest).toBe(image.digest);
  });

  test('a guest’s push is denied, and anonymous clients cannot read the private project', async () => {
    const err = await skopeoCopy(ociReference(layout, 'v1'), `docker://${wharf.host}/${PRIVATE}/guest:v1`, {
      creds: guest,
      freshBlobInfoCache: true,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(String((err as CommandError).message)).toMatch(/denied|unauthorized|authentication required/i);

    const anonymous = await skopeoInspect(`docker://${wharf.host}/${PRIVATE}/app:v1`).catch(
      (e: unknown) => e,
    );
    expect(anonymous).toBeInstanceOf(CommandError);
  });

  test('podman pushes as a developer and pulls back the same digest', async () => {
    const local = await podman.pull(ociReference(layout, 'v1'));
    const pushed = await podman.push(local, `docker://${wharf.host}/${PRIVATE}/podman:v1`, {
      creds: developer,
      freshBlobInfoCache: true,
    });
    await podman.rmi(local);
    expect(await podman.pull(`docker://${wharf.host}/${PRIVATE}/podman:v1`, { creds: developer })).toBe(
      local,
    );
    expect(await podman.imageDigest(`${wharf.host}/${PRIVATE}/podman:v1`)).toBe(pushed);
  });

  test('anonymous clients pull from the public project library', async () => {
    const dest = `docker://${wharf.host}/library/public-app:v1`;
    await skopeoCopy(ociReference(layout, 'v1'), dest, {
      creds: { username: 'admin', password: wharf.adminPassword },
      freshBlobInfoCache: true,
    });
    expect((await skopeoInspect(dest)).Digest).toBe(image.digest);
  });
});
