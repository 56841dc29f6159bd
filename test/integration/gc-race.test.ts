import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backends } from '../../src/wharf.js';
import { fsckProblems, runRaceScenario, type RaceDeployment } from '../helpers/gc-race-scenario.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';
import { OciClient } from '../helpers/oci-client.js';

// Issue #12, "Done when": garbage collection runs back to back, with no grace period, while four
// clients push, delete, mount and push again images that share their layers, for 200+ cycles
// (test/helpers/gc-race.ts). Afterwards every tag pulls as last acknowledged, fsck finds the
// store clean, and after a final GC the filesystem holds exactly the bytes the tags reference.
// On PGlite (inprocess, integration-pglite) and on PostgreSQL (integration-postgres), where GC's
// and the writers' transactions really run side by side. The S3 and load-balanced variants are
// test/storage/gc-race-s3.test.ts and test/ha/gc-race-cluster.test.ts.

describe('GC racing pushes, deletions and mounts on the filesystem', () => {
  let wharf: InProcessWharf;

  beforeAll(async () => {
    // storage 'disk': the filesystem driver under data_dir/storage, as `wharf serve` runs it.
    wharf = await startInProcessWharf(
      { gc: { grace_period_minutes: 0 } },
      { projects: ['race'], storage: 'disk' },
    );
    // A limit far above what the race stores: every blob write takes the quota row's lock, so
    // the race also covers the lock order of GC, deletions and quota-checked writes.
    const res = await wharf.call('PUT', '/api/v2.0/projects/race', wharf.adminAuth, {
      storage_limit: 1024 ** 4,
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await wharf?.close();
  });

  /** The embedded database admits one process: the server stops while the test reads the store. */
  async function whileStopped<T>(
    inspect: (backends: Pick<Backends, 'db' | 'storage'>) => Promise<T>,
  ): Promise<T> {
    await wharf.stop();
    const backends = await wharf.openBackends();
    try {
      return await inspect(backends);
    } finally {
      await backends.close();
      await wharf.restart();
    }
  }

  it('never loses a byte an acknowledged tag references, and leaves no garbage', async () => {
    const deployment: RaceDeployment = {
      clients: [new OciClient(wharf.url, wharf.adminAuth)],
      gc: { url: wharf.url, authorization: wharf.adminAuth },
      withBackends: whileStopped,
      fsckClean: async () => expect(await whileStopped(fsckProblems)).toEqual([]),
    };
    await runRaceScenario(deployment, { repositories: ['race/a', 'race/b', 'race/c'] });
  }, 600_000);
});
