import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRaceScenario, fsckProblems, type RaceDeployment } from '../helpers/gc-race-scenario.js';
import { OciClient } from '../helpers/oci-client.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { runCli } from '../helpers/run-cli.js';
import { startS3Server, type S3ServerHandle } from '../helpers/s3-server.js';
import { adminAuth, startWharf, type WharfHandle } from '../helpers/server.js';
import { withSharedBackends, type SharedStore } from '../helpers/shared-backends.js';

// Issue #12, "Done when": the GC race of test/integration/gc-race.test.ts on the S3 driver (the
// s3rver test server) and PostgreSQL, with the real `wharf serve`: GC's deletions are S3 object
// deletions racing the clients' uploads, mounts and manifest PUTs. Afterwards `wharf fsck` on the
// bucket finds it clean and the bucket holds exactly the blobs the acknowledged tags reference.

describe('GC race on S3 storage', () => {
  let s3: S3ServerHandle;
  let pg: PostgresServer;
  let wharf: WharfHandle;
  let store: SharedStore;

  beforeAll(async () => {
    [s3, pg] = await Promise.all([startS3Server(), startPostgres()]);
    const databaseUrl = await pg.createDatabase();
    const s3Storage = {
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      access_key: s3.accessKey,
      secret_key: s3.secretKey,
      path_style: true,
      root_directory: 'registry',
    };
    store = { databaseUrl, storage: { s3: s3Storage } };
    const extraConfig = [
      'storage:',
      '  s3:',
      ...Object.entries(s3Storage).map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`),
      'gc:',
      '  grace_period_minutes: 0',
    ].join('\n');
    wharf = await startWharf({ databaseUrl, extraConfig, projects: ['race'] });
  });
  afterAll(async () => {
    await wharf?.stop();
    await Promise.allSettled([s3?.stop(), pg?.stop()]);
  });

  it('never loses a byte an acknowledged tag references, and leaves no garbage in the bucket', async () => {
    const authorization = adminAuth(wharf);
    const deployment: RaceDeployment = {
      clients: [new OciClient(wharf.url, authorization)],
      gc: { url: wharf.url, authorization },
      withBackends: (inspect) => withSharedBackends(store, inspect),
      fsckClean: async () => {
        const cli = await runCli(['fsck', '--config', wharf.configPath, '--data-dir', wharf.dataDir]);
        const problems = cli.code === 0 ? [] : await withSharedBackends(store, fsckProblems);
        expect({ code: cli.code, problems }, `${cli.stdout}\n${cli.stderr}`).toEqual({
          code: 0,
          problems: [],
        });
        expect(cli.stdout).toMatch(/the store is clean/);
      },
      explain: (texts) => {
        const ids = texts.flatMap((t) =>
          [...t.matchAll(/request id ([0-9a-f-]+)/g)].map((m) => m[1] as string),
        );
        return wharf
          .output()
          .split('\n')
          .filter((line) => ids.some((id) => line.includes(id)));
      },
    };
    await runRaceScenario(deployment, { repositories: ['race/a', 'race/b', 'race/c'], maxMs: 600_000 });
  }, 900_000);
});
